"""Steady HTTP load from a few threads, every request timed and kept, for fault tests.

Each thread cycles through its targets with its own client: ``keep_alive=True``
threads reuse one connection (as a load balancer does), the others open a fresh
connection per request so requests spread over every gunicorn worker. Each request
becomes a :class:`Sample` (start and end on ``time.monotonic()``, status or the
transport error's class name) that the test sorts into phases afterwards.
"""

from __future__ import annotations

import logging
import math
import threading
import time
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field

import httpx


@dataclass(frozen=True)
class Target:
    base_url: str
    path: str
    headers: Mapping[str, str] = field(default_factory=dict)
    label: str = ""

    @property
    def name(self) -> str:
        return self.label or self.path


@dataclass(frozen=True)
class Sample:
    target: str
    start: float
    end: float
    status: int | None  # None: no HTTP answer
    error: str = ""  # transport error class name when status is None, else the envelope's code

    @property
    def seconds(self) -> float:
        return self.end - self.start


class Load:
    def __init__(
        self,
        threads: Sequence[Sequence[Target]],
        *,
        keep_alive: Sequence[bool] | None = None,
        pause: float = 0.05,
        timeout: float = 15.0,
    ) -> None:
        self._threads = threads
        self._keep_alive = keep_alive or [True] * len(threads)
        self._pause = pause
        self._timeout = timeout
        self._stop = threading.Event()
        self._lock = threading.Lock()
        self._running: list[threading.Thread] = []
        self.samples: list[Sample] = []

    def __enter__(self) -> Load:
        # httpx logs every request at INFO: thousands of lines in a failure report.
        self._httpx_level = logging.getLogger("httpx").level
        logging.getLogger("httpx").setLevel(logging.WARNING)
        for index, targets in enumerate(self._threads):
            thread = threading.Thread(
                target=self._run, args=(targets, self._keep_alive[index]), name=f"load-{index}", daemon=True
            )
            thread.start()
            self._running.append(thread)
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def stop(self) -> None:
        self._stop.set()
        for thread in self._running:
            thread.join(timeout=self._timeout + 5)
        if self._running:
            logging.getLogger("httpx").setLevel(self._httpx_level)
        self._running = []

    def _run(self, targets: Sequence[Target], keep_alive: bool) -> None:
        client = httpx.Client(timeout=self._timeout)
        try:
            while not self._stop.is_set():
                for target in targets:
                    if self._stop.is_set():
                        break
                    self._one(client, target, keep_alive)
                    time.sleep(self._pause)
        finally:
            client.close()

    def _one(self, client: httpx.Client, target: Target, keep_alive: bool) -> None:
        headers = dict(target.headers)
        if not keep_alive:
            headers["Connection"] = "close"
        start = time.monotonic()
        try:
            response = client.get(target.base_url + target.path, headers=headers)
            sample = Sample(target.name, start, time.monotonic(), response.status_code, _error_code(response))
        except httpx.HTTPError as exc:
            sample = Sample(target.name, start, time.monotonic(), None, type(exc).__name__)
        with self._lock:
            self.samples.append(sample)

    def between(self, start: float, end: float, targets: Iterable[str] | None = None) -> list[Sample]:
        """Samples that started at or after ``start`` and ended by ``end``."""
        wanted = set(targets) if targets is not None else None
        with self._lock:
            samples = list(self.samples)
        return [s for s in samples if s.start >= start and s.end <= end and (wanted is None or s.target in wanted)]


def _error_code(response: httpx.Response) -> str:
    if response.status_code < 400 or not response.headers.get("content-type", "").startswith("application/json"):
        return ""
    try:
        error = response.json().get("error")
    except ValueError:
        return "not-json"
    return str(error.get("code", "")) if isinstance(error, dict) else ""


def statuses(samples: Iterable[Sample]) -> dict[str, int]:
    """How many samples had each answer: ``{"200": 80, "503 database_unavailable": 3, "ConnectError": 1}``."""
    counts: dict[str, int] = {}
    for sample in samples:
        key = sample.error if sample.status is None else f"{sample.status} {sample.error}".strip()
        counts[key] = counts.get(key, 0) + 1
    return dict(sorted(counts.items()))


def percentile(values: Sequence[float], q: float) -> float:
    """Nearest-rank percentile (q in 0..100) of ``values``; NaN when empty."""
    if not values:
        return math.nan
    ordered = sorted(values)
    rank = max(1, math.ceil(q / 100 * len(ordered)))
    return ordered[rank - 1]


def latency_summary(samples: Sequence[Sample]) -> str:
    """``n=.. p50=..ms p99=..ms max=..ms`` for a report line."""
    values = [s.seconds * 1000 for s in samples]
    if not values:
        return "n=0"
    return (
        f"n={len(values)} p50={percentile(values, 50):.0f}ms p99={percentile(values, 99):.0f}ms max={max(values):.0f}ms"
    )
