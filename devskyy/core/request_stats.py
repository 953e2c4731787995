"""HTTP request figures over time, for ``GET /api/v1/monitoring/metrics``.

Prometheus counters are per process and not windowed in time, so they cannot say
"requests in the last hour" across workers. Each request therefore adds to two Redis
hashes, the one of its minute and the one of its hour, with HINCRBY in *one pipelined
round trip* (no database write, no read, no lock):

* ``n:<class>:<status class>``: requests (status class ``2xx`` ... ``5xx``);
* ``h:<class>:<i>``: latency histogram, ``i`` indexing LATENCY_BUCKETS_MS (the last
  index is the open bucket above the largest bound);
* ``us:<class>``: latency sum in microseconds (for the mean).

``class`` is one of ROUTE_CLASSES (``api``, ``probe``, ``admin``, ``other``), a bounded
set. Minute hashes live 2 hours and answer the ``1h`` window; hour hashes live 32
days and answer ``24h``, ``7d`` and ``30d`` (24, 168 and 720 hours, the current one
partly). Reading a window is one pipelined HGETALL per bucket.

Percentiles are **estimates** from the histogram: the rank's bucket is found and the
value interpolated linearly inside it; a rank in the open top bucket reports that
bucket's lower bound. They are as exact as the buckets are narrow.

**Batched per process.** A request adds its fields to this process's pending sums;
a daemon thread writes them every REQUEST_STATS_FLUSH_SECONDS (1 s) as one pipeline
(one HINCRBY per distinct field, so 1,000 requests in a second cost about as much
Redis work as one did). Reading a window first writes this process's pending sums,
so a reader is exact for its own process and at most one interval behind for the
others. A process killed with SIGKILL loses at most one interval of figures; a normal
exit writes them. Measured: one Redis round trip less per request (bench/README.md).
``REQUEST_STATS_FLUSH_SECONDS=0`` writes each request at once (the former behaviour).

Without Redis (embedded mode, one process) the same hashes live in process memory.
While Redis is unreachable (the cache's breaker is open) requests are not recorded:
figures then under-count; they are never invented.
"""

from __future__ import annotations

import atexit
import logging
import math
import os
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

from django.conf import settings
from django.core.cache import caches
from django.core.exceptions import MiddlewareNotUsed
from django.http import HttpRequest, HttpResponse
from redis.exceptions import RedisError

from devskyy.core.cache import REDIS_UNAVAILABLE_ERRORS
from devskyy.core.cache import RedisCache as DevskyyRedisCache
from devskyy.core.settings_cache import derived_from_settings

logger = logging.getLogger(__name__)

LATENCY_BUCKETS_MS: tuple[float, ...] = (1, 2.5, 5, 10, 25, 50, 100, 250, 500, 1000, 2500, 5000, 10000)
ROUTE_CLASSES = ("api", "probe", "admin", "other")
STATUS_CLASSES = ("1xx", "2xx", "3xx", "4xx", "5xx")
_PROBES = frozenset({"/", "/health", "/ready", "/live", "/metrics", "/metrics/cache"})
MINUTE_TTL = 2 * 3600
HOUR_TTL = 32 * 24 * 3600

# time_range -> (bucket seconds, number of buckets)
WINDOWS: dict[str, tuple[int, int]] = {"1h": (60, 60), "24h": (3600, 24), "7d": (3600, 168), "30d": (3600, 720)}


def route_class(path: str) -> str:
    if path.startswith("/api/"):
        return "api"
    if path in _PROBES:
        return "probe"
    if path.startswith("/" + settings.ADMIN_URL):
        return "admin"
    return "other"


def bucket_index(duration_ms: float) -> int:
    for index, bound in enumerate(LATENCY_BUCKETS_MS):
        if duration_ms <= bound:
            return index
    return len(LATENCY_BUCKETS_MS)


# (minute, route class, status class 1-5, latency bucket index): one kind of request.
_Sample = tuple[int, str, int, int]


def _increments(samples: dict[_Sample, list[int]]) -> list[tuple[str, dict[str, int], int]]:
    """Counts and latency sums per kind of request -> the fields to add to each minute
    and hour hash (module docstring)."""
    sums: dict[str, tuple[Counter[str], int]] = {}
    for (minute, klass, status_class, bucket), (count, micros) in samples.items():
        for key, ttl in ((_key(60, minute), MINUTE_TTL), (_key(3600, minute // 60), HOUR_TTL)):
            entry = sums.get(key)
            if entry is None:
                entry = sums[key] = (Counter(), ttl)
            fields = entry[0]
            fields[f"n:{klass}:{status_class}xx"] += count
            fields[f"h:{klass}:{bucket}"] += count
            fields[f"us:{klass}"] += micros
    return [(key, dict(fields), ttl) for key, (fields, ttl) in sums.items()]


def _key(step: int, bucket: int) -> str:
    return f"{settings.CACHE_KEY_PREFIX}:reqstats:{'m' if step == 60 else 'h'}:{bucket}"


class LocalStore:
    """Process memory (embedded mode, tests); old buckets pruned as it goes."""

    def __init__(self) -> None:
        self._data: dict[str, Counter[str]] = {}
        self._expiry: dict[str, float] = {}
        self._lock = threading.Lock()

    def add(self, increments: list[tuple[str, dict[str, int], int]], now: float) -> None:
        with self._lock:
            for key, fields, ttl in increments:
                self._data.setdefault(key, Counter()).update(fields)
                self._expiry[key] = now + ttl
            if len(self._data) > 4000:
                for key in [k for k, t in self._expiry.items() if t < now]:
                    self._data.pop(key, None)
                    self._expiry.pop(key, None)

    def read(self, keys: list[str]) -> list[dict[str, int]]:
        with self._lock:
            return [dict(self._data.get(key, {})) for key in keys]

    def clear(self) -> None:
        forget_pending()
        with self._lock:
            self._data.clear()
            self._expiry.clear()


_local = LocalStore()


class RedisStore:
    def __init__(self, cache: DevskyyRedisCache) -> None:
        self._cache = cache

    def _redis(self) -> Any:
        return self._cache.client.get_client(write=True)

    def add(self, increments: list[tuple[str, dict[str, int], int]], now: float) -> None:
        breaker = self._cache.breaker
        if not breaker.allow():
            return
        try:
            pipe = self._redis().pipeline(transaction=False)
            for key, fields, ttl in increments:
                for name, amount in fields.items():
                    pipe.hincrby(key, name, amount)
                pipe.expire(key, ttl)
            pipe.execute()
        except REDIS_UNAVAILABLE_ERRORS as exc:
            breaker.record_failure(exc)
        except RedisError as exc:  # any other Redis refusal: drop this sample, never fail the request
            logger.warning("request figures not recorded: %s", type(exc).__name__)

    def read(self, keys: list[str]) -> list[dict[str, int]]:
        pipe = self._redis().pipeline(transaction=False)
        for key in keys:
            pipe.hgetall(key)
        rows = pipe.execute()
        return [{k.decode(): int(v) for k, v in row.items()} for row in rows]

    def clear(self) -> None:
        forget_pending()
        redis = self._redis()
        keys = list(redis.scan_iter(match=f"{settings.CACHE_KEY_PREFIX}:reqstats:*", count=1000))
        if keys:
            redis.delete(*keys)


def _shared_cache() -> DevskyyRedisCache | None:
    """The Redis cache the figures are shared through, or None (embedded: process memory)."""
    cache = caches["default"]
    return cache if isinstance(cache, DevskyyRedisCache) else None


def store() -> LocalStore | RedisStore:
    cache = _shared_cache()
    return _local if cache is None else RedisStore(cache)


class _Pending:
    """This process's requests not yet written to Redis, counted per kind of request
    (a request costs a dict update; the fields are built once per flush)."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.samples: dict[_Sample, list[int]] = {}  # -> [requests, latency sum in us]
        self.pid = 0  # the process whose flusher thread runs
        self.flushed_at = time.monotonic()

    def add(self, sample: _Sample, micros: int) -> None:
        with self.lock:
            entry = self.samples.get(sample)
            if entry is None:
                self.samples[sample] = [1, micros]
            else:
                entry[0] += 1
                entry[1] += micros

    def take(self) -> list[tuple[str, dict[str, int], int]]:
        with self.lock:
            taken, self.samples = self.samples, {}
            self.flushed_at = time.monotonic()
        return _increments(taken)


_pending = _Pending()


def flush() -> None:
    """Write this process's pending figures (one pipeline); nothing pending, no I/O."""
    increments = _pending.take()
    if increments:
        store().add(increments, time.time())


def forget_pending() -> None:
    _pending.take()


def _flush_loop() -> None:
    while True:
        interval = settings.REQUEST_STATS_FLUSH_SECONDS
        time.sleep(min(0.25, interval) if interval > 0 else 0.25)
        if time.monotonic() - _pending.flushed_at < interval:
            continue
        try:
            flush()
        except Exception:  # the flusher must outlive any failure; the store logs Redis errors
            logger.exception("request figures flush failed")


def _ensure_flusher() -> None:
    pid = os.getpid()
    if _pending.pid == pid:
        return
    with _pending.lock:
        if _pending.pid == pid:
            return
        # A forked child must not write what its parent had pending (the parent does).
        _pending.samples = {}
        _pending.pid = pid
    threading.Thread(target=_flush_loop, name="devskyy-request-stats", daemon=True).start()


atexit.register(flush)


def record(*, path: str, status: int, duration_ms: float, now: float | None = None) -> None:
    """Count one request (the middleware's call; tests may call it with a fixed ``now``)."""
    now = time.time() if now is None else now
    sample = (int(now // 60), route_class(path), min(5, max(1, status // 100)), bucket_index(duration_ms))
    micros = int(duration_ms * 1000)
    if not _buffered():
        store().add(_increments({sample: [1, micros]}), now)
        return
    _ensure_flusher()
    _pending.add(sample, micros)


@derived_from_settings
def _buffered() -> bool:
    """Whether figures are summed in process and written to Redis by the flusher
    (settings decide: the flush interval and the cache's backend), or stored at once."""
    return settings.REQUEST_STATS_FLUSH_SECONDS > 0 and _shared_cache() is not None


@dataclass
class ClassFigures:
    requests: int = 0
    by_status: dict[str, int] = field(default_factory=lambda: dict.fromkeys(STATUS_CLASSES, 0))
    histogram: list[int] = field(default_factory=lambda: [0] * (len(LATENCY_BUCKETS_MS) + 1))
    latency_sum_us: int = 0

    def merge(self, other: ClassFigures) -> None:
        self.requests += other.requests
        for name, count in other.by_status.items():
            self.by_status[name] += count
        self.histogram = [a + b for a, b in zip(self.histogram, other.histogram, strict=True)]
        self.latency_sum_us += other.latency_sum_us


@dataclass(frozen=True)
class Window:
    time_range: str
    start: float  # epoch seconds
    end: float
    resolution: str  # minute | hour

    @property
    def seconds(self) -> float:
        return max(1.0, self.end - self.start)


def window_for(time_range: str, now: float | None = None) -> tuple[Window, list[str]]:
    """The window a time range covers (whole buckets, the current one partly) and its keys."""
    step, count = WINDOWS[time_range]
    now = time.time() if now is None else now
    current = int(now // step)
    buckets = range(current - count + 1, current + 1)
    window = Window(time_range, float(buckets[0] * step), now, "minute" if step == 60 else "hour")
    return window, [_key(step, b) for b in buckets]


def read_window(time_range: str, now: float | None = None) -> tuple[Window, dict[str, ClassFigures]]:
    """Figures per route class over ``time_range`` (a key of WINDOWS)."""
    flush()  # this process's own figures are exact; other processes' lag one interval at most
    window, keys = window_for(time_range, now)
    figures = {klass: ClassFigures() for klass in ROUTE_CLASSES}
    for row in store().read(keys):
        for name, value in row.items():
            kind, _, rest = name.partition(":")
            klass, _, tail = rest.partition(":")
            if klass not in figures:
                continue
            target = figures[klass]
            if kind == "n" and tail in target.by_status:
                target.by_status[tail] += value
                target.requests += value
            elif kind == "h" and tail.isdigit() and int(tail) < len(target.histogram):
                target.histogram[int(tail)] += value
            elif kind == "us":
                target.latency_sum_us += value
    return window, figures


def percentile(histogram: list[int], q: float) -> float | None:
    """Estimate the ``q`` quantile (0-1) in ms from bucket counts (see module docstring)."""
    total = sum(histogram)
    if total == 0:
        return None
    rank = max(1.0, math.ceil(q * total))
    seen = 0
    for index, count in enumerate(histogram):
        if count and seen + count >= rank:
            lower = LATENCY_BUCKETS_MS[index - 1] if index > 0 else 0.0
            if index >= len(LATENCY_BUCKETS_MS):
                return float(lower)
            upper = LATENCY_BUCKETS_MS[index]
            return round(lower + (upper - lower) * (rank - seen) / count, 3)
        seen += count
    return None  # pragma: no cover - rank <= total always lands in a bucket


def combined(figures: Iterable[ClassFigures]) -> ClassFigures:
    total = ClassFigures()
    for item in figures:
        total.merge(item)
    return total


class RequestStatsMiddleware:
    """Records every request's route class, status class and latency (see module doc)."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        if not settings.ENABLE_METRICS:
            raise MiddlewareNotUsed
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        started = time.perf_counter()
        response = self.get_response(request)
        record(path=request.path, status=response.status_code, duration_ms=(time.perf_counter() - started) * 1000)
        return response
