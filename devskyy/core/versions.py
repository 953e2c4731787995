"""Shared version counters: may a process-local copy of shared data still be served?

A *version* is a named counter every process sees (Redis in production, process
memory embedded). A writer calls :func:`bump` when the data changes; the increment
happens after the surrounding transaction commits. A reader stores its copy with the
version it read *before* reading the data, and serves the copy only while
:func:`current` still returns that version. Used for verified credentials
(``auth``, devskyy/core/api_keys.py, devskyy/core/authentication.py), and through
:class:`VersionedCopy` for the agents list (``agents_list``), the stored LLM
credentials (``llm_providers``) and the active webhook subscriptions
(``webhook_subscriptions``).

Cost: on /api/ requests the rate limiter's Redis script returns every registered
version in the same round trip as the limit check, at the start of the request,
and :func:`current` answers from there. Elsewhere it costs one GET.

Redis unreachable: :func:`current` returns None and readers must not serve copies
(they read the database). A bump that fails is retried by the same process with its
next successful read, and readers also bound the life of a copy (each says how), so
a bump lost for good while Redis was down delays a change by at most that bound.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Hashable, Mapping
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

import redis
from django.conf import settings
from django.db import connection, transaction

from devskyy.core.logging import Throttled

logger = logging.getLogger(__name__)
_log = Throttled(logger, interval=60.0)

REQUEST_ATTR = "_devskyy_versions"
# Bumped by every change to credentials or principals: API keys, users, their groups,
# logged-out access tokens (devskyy/core/receivers.py, core/tokens.py).
AUTH = "auth"
_TIMEOUT_SECONDS = 0.5

_registered: list[str] = []
_lock = threading.Lock()
_local: dict[str, int] = {}  # embedded mode
_pending: set[str] = set()  # bumps that failed, retried with the next successful call
_client: redis.Redis | None = None
_client_url: str | None = None
_open_until = 0.0


def register(name: str) -> None:
    """Have the rate limiter prefetch ``name`` on every /api/ request."""
    with _lock:
        if name not in _registered:
            _registered.append(name)


def registered() -> tuple[str, ...]:
    return tuple(_registered)


def key(name: str) -> str:
    return f"{settings.CACHE_KEY_PREFIX}:v:{name}"


def initial_value() -> int:
    """First value of a counter created anew (first use, Redis flushed or restarted):
    from the clock, so it never repeats a value a process may still hold a copy for."""
    return time.time_ns() // 1000


def _redis() -> redis.Redis | None:
    global _client, _client_url
    url = settings.REDIS_URL or None
    if url is None:
        return None
    if _client is None or _client_url != url:
        _client = redis.Redis.from_url(
            url, socket_timeout=_TIMEOUT_SECONDS, socket_connect_timeout=_TIMEOUT_SECONDS, health_check_interval=30
        )
        _client_url = url
    return _client


def _failed(exc: BaseException) -> None:
    global _open_until
    _open_until = time.monotonic() + settings.REDIS_BREAKER_SECONDS
    _log.warning("version counters: Redis unavailable (%s)", type(exc).__name__)


def redis_failed_elsewhere(exc: BaseException) -> None:
    """REDIS_URL's server just failed another caller (the rate limiter's check): read no
    version from it for REDIS_BREAKER_SECONDS either, so a request does not wait out a
    second timeout on a server known to be hung (the copies are read from the database)."""
    _failed(exc)


def _incr(client: redis.Redis, name: str) -> None:
    # Created from the clock if missing: an INCR of a missing key would restart at 1.
    pipe = client.pipeline(transaction=False)
    pipe.set(key(name), initial_value(), nx=True)
    pipe.incr(key(name))
    pipe.execute()


def _retry_pending(client: redis.Redis) -> None:
    while _pending:
        name = _pending.pop()
        try:
            _incr(client, name)
        except redis.RedisError:
            _pending.add(name)
            raise


def current(name: str, request: Any = None) -> int | None:
    """The version now (prefetched for ``request`` when it was), or None if unknown."""
    if request is not None:
        # A DRF request wraps Django's, which holds them. Instance fields, not getattr():
        # a missing attribute costs a raised and caught AttributeError on every request.
        fields = vars(request)
        prefetched: Mapping[str, int] | None = vars(fields.get("_request", request)).get(REQUEST_ATTR)
        if prefetched is not None and name in prefetched:
            return prefetched[name]
    client = _redis()
    if client is None:
        with _lock:
            return _local.setdefault(name, initial_value())
    if time.monotonic() < _open_until:
        return None
    try:
        if _pending:
            _retry_pending(client)
        value = client.get(key(name))
        if value is None:
            client.set(key(name), initial_value(), nx=True)
            value = client.get(key(name))
    except redis.RedisError as exc:
        _failed(exc)
        return None
    return None if value is None else int(value)  # type: ignore[arg-type]  # sync client


def remember(request: Any, values: Mapping[str, int]) -> None:
    """Store versions read for ``request`` (by the rate limiter's script)."""
    setattr(request, REQUEST_ATTR, dict(values))


def _increment(name: str) -> None:
    client = _redis()
    if client is None:
        with _lock:
            _local[name] = _local.get(name, initial_value()) + 1
        return
    try:
        if _pending:
            _retry_pending(client)
        _incr(client, name)
    except redis.RedisError as exc:
        _pending.add(name)
        _failed(exc)


def bump(name: str) -> None:
    """``name``'s data changed: increment its version once the transaction commits
    (at once outside a transaction)."""
    transaction.on_commit(lambda: _increment(name))


register(AUTH)


T = TypeVar("T")


@dataclass(frozen=True)
class _Copy(Generic[T]):
    version: int
    key: Hashable
    expires: float  # monotonic
    value: T


class VersionedCopy(Generic[T]):
    """One process's copy of shared data, served while the version ``name`` holds.

    ``get(load, key=...)`` returns the kept value if it was loaded under the current
    version, with the same ``key`` (what else it depends on: settings, integration
    status), less than ``seconds`` ago; otherwise it calls ``load()`` and keeps the
    result. ``changed()`` (a writer, inside or outside a transaction) bumps the
    version after commit, so every process loads again on its next ``get``.

    Never kept: inside a transaction (the load may see uncommitted rows, or roll
    back), when the version is unknown (Redis unreachable), or when ``seconds`` is 0.
    ``seconds`` also bounds a copy's life when a write bypasses ``changed()``
    (queryset updates, raw SQL) or a bump is lost. One load per process and version:
    concurrent callers wait for it. Keep values immutable (tuples, frozen data):
    every caller shares the same object. ``prefetch``: the copy is read on most API
    requests and passes the request to ``get`` (the version then costs no round trip).
    """

    def __init__(self, name: str, *, seconds: float | Callable[[], float], prefetch: bool = False) -> None:
        if prefetch:  # read on every /api/ request with the rate limiter's script; else one GET per get()
            register(name)
        self.name = name
        self._seconds = seconds
        self._copy: _Copy[T] | None = None
        self._lock = threading.Lock()

    def changed(self) -> None:
        bump(self.name)

    def forget(self) -> None:
        """Drop this process's copy (tests)."""
        self._copy = None

    def _fresh(self, copy: _Copy[T] | None, version: int, key: Hashable) -> bool:
        return copy is not None and copy.version == version and copy.key == key and time.monotonic() < copy.expires

    def get(self, load: Callable[[], T], *, key: Hashable = None, request: Any = None) -> T:
        """The value, kept or loaded (class docstring). ``request``: use its prefetched versions."""
        seconds = self._seconds() if callable(self._seconds) else self._seconds
        if seconds <= 0 or connection.in_atomic_block:
            return load()
        version = current(self.name, request)
        if version is None:
            self._copy = None
            return load()
        copy = self._copy
        if copy is not None and self._fresh(copy, version, key):
            return copy.value
        with self._lock:
            copy = self._copy
            if copy is not None and self._fresh(copy, version, key):
                return copy.value
            value = load()
            if copy is None or copy.version <= version:  # never replace a newer version's copy
                self._copy = _Copy(version, key, time.monotonic() + seconds, value)
            return value
