"""Helpers of the load and worker-kill reliability tests (tests/reliability/).

* :func:`named_worker`: a Celery worker process (production pool: prefork) with a
  hostname the test knows, so rows it claimed (``AgentTask.worker``) can be told apart.
* :func:`wait_for_workers`: until the workers' liveness marks are in Redis.
* :func:`rss_kib`, :func:`child_pids`: memory and process tree from ``/proc``.
* :class:`LoadRun`: many client threads for a fixed time, each request timed and
  classified (status or transport error) per endpoint label.
"""

from __future__ import annotations

import logging
import os
import random
import shutil
import signal
import subprocess
import tempfile
import threading
import time
from collections import Counter, defaultdict
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, cast

import httpx
import redis

from tests.support.servers import PYTHON_BIN, ROOT, base_env, stop


@dataclass
class Worker:
    hostname: str
    process: subprocess.Popen[bytes]
    log_path: Path

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")

    def kill(self) -> None:
        """SIGKILL the worker and its pool children at once: nothing acks, nothing requeues."""
        os.killpg(self.process.pid, signal.SIGKILL)
        self.process.wait(timeout=10)


@contextmanager
def named_worker(env: Mapping[str, str], name: str, *, concurrency: int = 2) -> Iterator[Worker]:
    workdir = Path(tempfile.mkdtemp(prefix="devskyy-worker-"))
    log_path = workdir / "worker.log"
    hostname = f"{name}@reliability"
    with log_path.open("wb") as log:
        process = subprocess.Popen(
            [
                str(PYTHON_BIN / "celery"),
                "-A",
                "devskyy.taskqueue",
                "worker",
                "--loglevel=WARNING",
                f"--concurrency={concurrency}",
                "--pool=prefork",
                f"--hostname={hostname}",
                "--without-gossip",
                "--without-mingle",
            ],
            cwd=ROOT,
            env=base_env({"WORKER_HEARTBEAT_SECONDS": "1", **env}),
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    try:
        yield Worker(hostname=hostname, process=process, log_path=log_path)
    finally:
        stop(process, timeout=20)
        shutil.rmtree(workdir, ignore_errors=True)


BROKER_KEYS = ("celery", "unacked", "unacked_index", "unacked_mutex")


def empty_broker(redis_url: str) -> None:
    """Drop queued and unacknowledged Celery messages left by earlier tests (their task
    rows are gone with their test's database flush), so a worker started now sees only
    this test's messages."""
    redis.Redis.from_url(redis_url).delete(*BROKER_KEYS)


def wait_for_workers(redis_url: str, hostnames: list[str], timeout: float = 60) -> None:
    client = redis.Redis.from_url(redis_url)
    deadline = time.monotonic() + timeout
    alive: set[str] = set()
    while time.monotonic() < deadline:
        members = cast(list[bytes], client.zrangebyscore("devskyy:workers", time.time(), "+inf"))
        alive = {m.decode() for m in members}
        if set(hostnames) <= alive:
            return
        time.sleep(0.2)
    raise RuntimeError(f"workers {sorted(set(hostnames) - alive)} did not come up within {timeout}s")


def rss_kib(pid: int) -> int:
    """Resident set size of ``pid`` in KiB (``VmRSS`` of /proc/<pid>/status)."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    raise RuntimeError(f"no VmRSS for pid {pid}")


def child_pids(pid: int) -> list[int]:
    """Direct children of ``pid`` (e.g. gunicorn's workers under its arbiter)."""
    children = Path(f"/proc/{pid}/task/{pid}/children")
    return [int(p) for p in children.read_text().split()]


def _round(value: float | None) -> float | None:
    return round(value, 1) if value is not None else None


# --- load generation -------------------------------------------------------------------
Request = Callable[[httpx.Client, random.Random], httpx.Response]


def _percentile(values: list[float], share: float) -> float | None:
    if not values:
        return None
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(share * len(ordered)))]


@dataclass
class EndpointStats:
    latencies_ms: list[float] = field(default_factory=list)  # as the client saw them
    server_ms: list[float] = field(default_factory=list)  # X-Response-Time: inside Django
    statuses: Counter[int] = field(default_factory=Counter)
    errors: Counter[str] = field(default_factory=Counter)

    def percentile(self, share: float) -> float | None:
        return _percentile(self.latencies_ms, share)


@dataclass
class LoadRun:
    """``clients`` threads, each with its own keep-alive connection, pick a request by
    weight and send it, back to back, until ``seconds`` have passed."""

    base_url: str
    headers: dict[str, str]
    mix: list[tuple[str, int, Request]]
    clients: int
    seconds: float
    timeout: float = 10.0
    seed: int = 9
    stats: dict[str, EndpointStats] = field(default_factory=lambda: defaultdict(EndpointStats))
    bad: list[str] = field(default_factory=list)
    elapsed: float = 0.0
    client_cpu_seconds: float = 0.0

    def run(self, during: Callable[[float], None] | None = None) -> None:
        """Run the load; ``during(elapsed)`` is called from this thread about every second."""
        lock = threading.Lock()
        # httpx logs every request at INFO: thousands of records formatted in the
        # client process would take CPU from the servers under test.
        logging.getLogger("httpx").setLevel(logging.WARNING)
        cpu_before = time.process_time()
        start = time.monotonic()
        deadline = start + self.seconds
        labels = [label for label, _, _ in self.mix]
        weights = [weight for _, weight, _ in self.mix]
        requests = {label: send for label, _, send in self.mix}

        def client(index: int) -> None:
            rng = random.Random(self.seed * 1000 + index)
            local: dict[str, EndpointStats] = defaultdict(EndpointStats)
            bad: list[str] = []
            with httpx.Client(base_url=self.base_url, headers=self.headers, timeout=self.timeout) as http:
                while time.monotonic() < deadline:
                    label = rng.choices(labels, weights)[0]
                    sent = time.perf_counter()
                    try:
                        response = requests[label](http, rng)
                    except httpx.HTTPError as exc:
                        local[label].errors[type(exc).__name__] += 1
                        bad.append(f"{label}: {type(exc).__name__} {exc}")
                        continue
                    local[label].latencies_ms.append((time.perf_counter() - sent) * 1000)
                    local[label].statuses[response.status_code] += 1
                    server = response.headers.get("X-Response-Time", "")
                    if server.endswith("ms"):
                        local[label].server_ms.append(float(server[:-2]))
                    if response.status_code >= 400 and len(bad) < 20:
                        bad.append(f"{label}: {response.status_code} {response.text[:300]}")
            with lock:
                for name, stats in local.items():
                    merged = self.stats[name]
                    merged.latencies_ms.extend(stats.latencies_ms)
                    merged.server_ms.extend(stats.server_ms)
                    merged.statuses.update(stats.statuses)
                    merged.errors.update(stats.errors)
                self.bad.extend(bad)

        threads = [threading.Thread(target=client, args=(i,), daemon=True) for i in range(self.clients)]
        for thread in threads:
            thread.start()
        while any(t.is_alive() for t in threads):
            now = time.monotonic()
            if during is not None and now < deadline:
                during(now - start)
            threads[0].join(timeout=max(0.05, min(1.0, deadline - now)))
            if now > deadline + self.timeout + 30:
                raise RuntimeError("load clients did not stop")
        self.elapsed = time.monotonic() - start
        self.client_cpu_seconds = time.process_time() - cpu_before

    def summary(self) -> dict[str, Any]:
        total = sum(len(s.latencies_ms) for s in self.stats.values())
        per_endpoint = {}
        for label, stats in sorted(self.stats.items()):
            p50, p99 = stats.percentile(0.50), stats.percentile(0.99)
            per_endpoint[label] = {
                "requests": len(stats.latencies_ms),
                "statuses": dict(stats.statuses),
                "errors": dict(stats.errors),
                "p50_ms": round(p50, 1) if p50 is not None else None,
                "p99_ms": round(p99, 1) if p99 is not None else None,
                "max_ms": round(max(stats.latencies_ms), 1) if stats.latencies_ms else None,
                "server_p50_ms": _round(_percentile(stats.server_ms, 0.50)),
                "server_p99_ms": _round(_percentile(stats.server_ms, 0.99)),
            }
        return {
            "clients": self.clients,
            "seconds": round(self.elapsed, 1),
            "requests": total,
            "rps": round(total / self.elapsed, 1) if self.elapsed else None,
            "client_cpu_seconds": round(self.client_cpu_seconds, 1),
            "endpoints": per_endpoint,
        }
