"""Small shared state for circuit breakers and latency averages.

With Redis as the cache (production) the state lives in Redis, so every web and
worker process sees the same breaker: counters use INCR and the half-open probe is
claimed with SET NX, both atomic. The raw Redis client is used rather than the Django
cache API so that these bookkeeping reads do not count as cache hits or misses in
``redis_cache_*``. Without Redis (embedded mode: one process) the state is a
process-local dict, which is then exact. If Redis is unreachable, the process falls
back to its local state until Redis answers again (the cache's own breaker decides),
so a Redis outage degrades breakers to per-process instead of disabling them.
"""

from __future__ import annotations

import threading
import time
from typing import Any, Protocol

from django.conf import settings
from django.core.cache import caches

from devskyy.core.cache import REDIS_UNAVAILABLE_ERRORS
from devskyy.core.cache import RedisCache as DevskyyRedisCache


class SharedState(Protocol):
    def get(self, key: str) -> str | None: ...
    def set(self, key: str, value: str, ttl: float) -> None: ...
    def add(self, key: str, value: str, ttl: float) -> bool: ...
    def incr(self, key: str, ttl: float) -> int: ...
    def delete(self, *keys: str) -> None: ...
    def clear(self) -> None: ...


class LocalState:
    """Process-local state with expiry; thread-safe."""

    def __init__(self) -> None:
        self._data: dict[str, tuple[str, float]] = {}
        self._lock = threading.Lock()

    def _live(self, key: str, now: float) -> str | None:
        item = self._data.get(key)
        if item is None:
            return None
        if item[1] <= now:
            del self._data[key]
            return None
        return item[0]

    def get(self, key: str) -> str | None:
        with self._lock:
            return self._live(key, time.monotonic())

    def set(self, key: str, value: str, ttl: float) -> None:
        with self._lock:
            self._data[key] = (value, time.monotonic() + ttl)

    def add(self, key: str, value: str, ttl: float) -> bool:
        with self._lock:
            now = time.monotonic()
            if self._live(key, now) is not None:
                return False
            self._data[key] = (value, now + ttl)
            return True

    def incr(self, key: str, ttl: float) -> int:
        with self._lock:
            now = time.monotonic()
            value = int(self._live(key, now) or 0) + 1
            self._data[key] = (str(value), now + ttl)
            return value

    def delete(self, *keys: str) -> None:
        with self._lock:
            for key in keys:
                self._data.pop(key, None)

    def clear(self) -> None:
        with self._lock:
            self._data.clear()


class RedisState:
    """State in Redis under ``<CACHE_KEY_PREFIX>:llm:``; local fallback while Redis is down."""

    def __init__(self, cache: DevskyyRedisCache, fallback: LocalState) -> None:
        self._cache = cache
        self._fallback = fallback
        self._prefix = f"{settings.CACHE_KEY_PREFIX}:llm:"

    def _redis(self) -> Any:
        return self._cache.client.get_client(write=True)

    def _run(self, op: str, key: str, *args: Any) -> Any:
        breaker = self._cache.breaker
        if breaker.allow():
            try:
                result = getattr(self, f"_r_{op}")(self._prefix + key, *args)
            except REDIS_UNAVAILABLE_ERRORS as exc:
                breaker.record_failure(exc)
            else:
                breaker.record_success()
                return result
        return getattr(self._fallback, op)(key, *args)

    def _r_get(self, key: str) -> str | None:
        value = self._redis().get(key)
        return None if value is None else value.decode()

    def _r_set(self, key: str, value: str, ttl: float) -> None:
        self._redis().set(key, value, px=max(1, int(ttl * 1000)))

    def _r_add(self, key: str, value: str, ttl: float) -> bool:
        return bool(self._redis().set(key, value, px=max(1, int(ttl * 1000)), nx=True))

    def _r_incr(self, key: str, ttl: float) -> int:
        pipe = self._redis().pipeline(transaction=True)
        pipe.incr(key)
        pipe.pexpire(key, max(1, int(ttl * 1000)))
        value, _ = pipe.execute()
        return int(value)

    def _r_delete(self, key: str, *more: str) -> None:
        self._redis().delete(key, *(self._prefix + k for k in more))

    def get(self, key: str) -> str | None:
        return self._run("get", key)  # type: ignore[no-any-return]

    def set(self, key: str, value: str, ttl: float) -> None:
        self._run("set", key, value, ttl)

    def add(self, key: str, value: str, ttl: float) -> bool:
        return bool(self._run("add", key, value, ttl))

    def incr(self, key: str, ttl: float) -> int:
        return int(self._run("incr", key, ttl))

    def delete(self, *keys: str) -> None:
        if keys:
            self._run("delete", keys[0], *keys[1:])

    def clear(self) -> None:
        redis = self._redis()
        keys = list(redis.scan_iter(match=self._prefix + "*", count=500))
        if keys:
            redis.delete(*keys)
        self._fallback.clear()


_local = LocalState()


def shared_state() -> SharedState:
    cache = caches["default"]
    if isinstance(cache, DevskyyRedisCache):
        return RedisState(cache, _local)
    return _local
