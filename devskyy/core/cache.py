"""Cache backends that count hits and misses, and survive a Redis outage quickly.

django-redis alone turns errors into misses only after every call has waited out
its socket timeout (PITFALLS: Redis). ``RedisCache`` adds a per-process circuit
breaker: after one failure Redis is skipped and reads return misses at once, while a
background thread pings Redis every REDIS_BREAKER_SECONDS and closes the breaker when
it answers. Recovery needs no restart, no request waits on a dead Redis more than
once, and failures are logged once per interval, not per request.
"""

from __future__ import annotations

import logging
import socket
import threading
import time
from collections.abc import Callable, Iterable
from typing import Any, TypeVar

import redis
from django.conf import settings
from django.core.cache.backends.locmem import LocMemCache as DjangoLocMemCache
from django_redis.cache import RedisCache as DjangoRedisCache
from django_redis.exceptions import ConnectionInterrupted
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import TimeoutError as RedisTimeoutError

from devskyy.core.logging import Throttled
from devskyy.core.metrics import CACHE_ERRORS, CACHE_HITS, CACHE_MISSES

logger = logging.getLogger(__name__)
_MISSING = object()
_T = TypeVar("_T")

# Errors that mean "Redis is unreachable", as opposed to a bad command.
REDIS_UNAVAILABLE_ERRORS: tuple[type[BaseException], ...] = (
    RedisConnectionError,
    RedisTimeoutError,
    ConnectionInterrupted,
    socket.timeout,
    ConnectionError,
)


class CircuitBreaker:
    """Shared by every thread of a process for one Redis location.

    Closed: calls go to Redis. After a failure it opens: calls are skipped at once,
    and a background thread pings Redis every ``open_seconds`` (short timeout) and
    closes the breaker when Redis answers. No request ever pays for the probing.
    """

    def __init__(self, name: str, open_seconds: float, probe: Callable[[], object]) -> None:
        self.name = name
        self.open_seconds = open_seconds
        self._probe = probe
        self._open = False
        self._lock = threading.Lock()
        self._prober: threading.Thread | None = None
        self._log = Throttled(logger, interval=max(open_seconds * 6, 30.0))

    @property
    def is_open(self) -> bool:
        return self._open

    def allow(self) -> bool:
        return not self._open

    def record_failure(self, exc: BaseException) -> None:
        with self._lock:
            self._open = True
            if self._prober is None or not self._prober.is_alive():
                self._prober = threading.Thread(
                    target=self._probe_until_back, name=f"redis-{self.name}-probe", daemon=True
                )
                self._prober.start()
        self._log.warning(
            "Redis %s unavailable (%s); serving cache misses, probing every %.1fs",
            self.name,
            type(exc).__name__,
            self.open_seconds,
        )

    def record_success(self) -> None:
        if self._open:
            with self._lock:
                self._open = False
            logger.info("Redis %s reachable again", self.name)

    def _probe_until_back(self) -> None:
        while self._open:
            time.sleep(self.open_seconds)
            try:
                self._probe()
            except REDIS_UNAVAILABLE_ERRORS + (OSError,):
                continue
            self.record_success()


_breakers: dict[str, CircuitBreaker] = {}
_breakers_lock = threading.Lock()
_PROBE_TIMEOUT = 0.5


def breaker_for(location: str) -> CircuitBreaker:
    with _breakers_lock:
        breaker = _breakers.get(location)
        if breaker is None:
            client = redis.Redis.from_url(
                location, socket_timeout=_PROBE_TIMEOUT, socket_connect_timeout=_PROBE_TIMEOUT
            )
            breaker = CircuitBreaker("cache", settings.REDIS_BREAKER_SECONDS, probe=client.ping)
            _breakers[location] = breaker
        return breaker


def _count_reads(requested: int, found: int) -> None:
    if found:
        CACHE_HITS.inc(found)
    if requested - found:
        CACHE_MISSES.inc(requested - found)


class RedisCache(DjangoRedisCache):
    """django-redis with read counting and a circuit breaker (see module docstring)."""

    def __init__(self, server: str, params: dict[str, Any]) -> None:
        super().__init__(server, params)
        self._ignore_exceptions = False  # we catch unavailability ourselves
        self._breaker = breaker_for(server)

    @property
    def breaker(self) -> CircuitBreaker:
        return self._breaker

    def _guard(self, default: _T, call: Callable[[], _T]) -> _T:
        if not self._breaker.allow():
            CACHE_ERRORS.inc()
            return default
        try:
            result = call()
        except REDIS_UNAVAILABLE_ERRORS as exc:
            CACHE_ERRORS.inc()
            self._breaker.record_failure(exc)
            return default
        self._breaker.record_success()
        return result

    def get(self, key: Any, default: Any = None, version: int | None = None, client: Any = None) -> Any:
        value = self._guard(_MISSING, lambda: super(RedisCache, self).get(key, _MISSING, version, client))
        _count_reads(1, 0 if value is _MISSING else 1)
        return default if value is _MISSING else value

    def get_many(self, keys: Iterable[Any], version: int | None = None, client: Any = None) -> dict[Any, Any]:
        keys = list(keys)
        found: dict[Any, Any] = self._guard(
            {}, lambda: super(RedisCache, self).get_many(keys, version=version, client=client)
        )
        _count_reads(len(keys), len(found))
        return found

    def set(self, *args: Any, **kwargs: Any) -> Any:
        return self._guard(False, lambda: super(RedisCache, self).set(*args, **kwargs))

    def add(self, *args: Any, **kwargs: Any) -> Any:
        return self._guard(False, lambda: super(RedisCache, self).add(*args, **kwargs))

    def set_many(self, *args: Any, **kwargs: Any) -> Any:
        return self._guard([], lambda: super(RedisCache, self).set_many(*args, **kwargs))

    def delete(self, *args: Any, **kwargs: Any) -> Any:
        return self._guard(False, lambda: super(RedisCache, self).delete(*args, **kwargs))

    def delete_many(self, *args: Any, **kwargs: Any) -> Any:
        return self._guard(0, lambda: super(RedisCache, self).delete_many(*args, **kwargs))

    def has_key(self, *args: Any, **kwargs: Any) -> Any:
        return self._guard(False, lambda: super(RedisCache, self).has_key(*args, **kwargs))

    def touch(self, *args: Any, **kwargs: Any) -> Any:
        return self._guard(False, lambda: super(RedisCache, self).touch(*args, **kwargs))

    def incr(self, *args: Any, **kwargs: Any) -> Any:
        # A counter that silently stays at 0 would be wrong; callers decide what to do.
        return super().incr(*args, **kwargs)

    def pool_stats(self) -> dict[str, int]:
        """Connections in this process's pool for the cache (size, in use, limit)."""
        client = self.client.get_client(write=False)
        pool = client.connection_pool
        in_use = len(getattr(pool, "_in_use_connections", ()))
        available = len(getattr(pool, "_available_connections", ()))
        return {"max": int(getattr(pool, "max_connections", 0)), "in_use": in_use, "open": in_use + available}


class LocMemCache(DjangoLocMemCache):
    """Embedded cache with the same read counting as ``RedisCache``."""

    def get(self, key: Any, default: Any = None, version: int | None = None) -> Any:
        value = super().get(key, _MISSING, version)
        _count_reads(1, 0 if value is _MISSING else 1)
        return default if value is _MISSING else value

    # get_many: Django's base implementation calls get() per key, which counts.
