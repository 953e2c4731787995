"""Rate limits on /api/: per user or API key, else per client IP, shared by every worker.

Two fixed windows per client: RATE_LIMIT_PER_MINUTE per RATE_LIMIT_WINDOW_SECONDS
(60) and RATE_LIMIT_PER_HOUR per hour; the token endpoint also has
LOGIN_RATE_LIMIT_PER_MINUTE per client IP. A window starts with the client's first
request in it and ends WINDOW seconds later.

With Redis (REDIS_URL), one Lua script checks every window of a request and counts
it atomically, so N workers on M instances enforce one budget. A refused request is
not counted (it spends no budget). Without Redis (embedded mode) the same algorithm
runs in process memory: one process, one budget.

Redis down: the limiter fails *open per process*: it falls back to the in-memory
limiter (each process then enforces the full limit by itself, so the platform-wide
allowance multiplies by the number of processes), skips Redis for
REDIS_BREAKER_SECONDS, and records the security event ``rate_limiter_unavailable``
once per interval. Availability of the API wins over exact limits while Redis is
out; the local limiter still stops a single client from flooding a process.

Signed public routes (devskyy/core/access.py SIGNED_ROUTE_CHECKS: the WooCommerce
webhook) are not limited when the request's signature verifies: the shop delivers in
bursts from one IP (a bulk edit of 1,000 products is 1,000 deliveries) and a refused
delivery counts towards WooCommerce disabling the webhook. Unsigned or badly signed
requests to those routes are counted per IP like any other.

Every /api/ response carries X-RateLimit-Limit/Remaining/Reset (Reset = seconds
until the binding window ends); a 429 adds Retry-After and the error envelope.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import logging
import math
import os
import threading
import time
import weakref
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import redis
from django.conf import settings
from django.http import HttpRequest, HttpResponse
from django.http.cookie import parse_cookie
from django.urls import NoReverseMatch, Resolver404, resolve, reverse
from redis.exceptions import NoScriptError
from rest_framework_simplejwt.exceptions import TokenError
from rest_framework_simplejwt.settings import api_settings as jwt_settings

from devskyy.core import loop_redis, principal_cache
from devskyy.core import versions as version_counters
from devskyy.core.access import SIGNED_ROUTE_CHECKS
from devskyy.core.api_keys import api_key_identity, raw_key_from_meta, remembered_key_prefix
from devskyy.core.audit import security_event
from devskyy.core.errors import envelope_response
from devskyy.core.logging import Throttled
from devskyy.core.metrics import SecurityEvent, record_security_event
from devskyy.core.net import client_ip, client_ip_from_meta

logger = logging.getLogger(__name__)

HOUR = 3600
# A limiter check must not hold a request for Redis' full socket timeout.
_REDIS_TIMEOUT_SECONDS = 0.5
_LOCAL_MAX_KEYS = 100_000
# Packed script calls kept (one per client and kind of request); past this, all are dropped.
_PACKED_MAX = 10_000

# KEYS: one counter per window, one "rejected already" marker, then version counters
# (devskyy/core/versions.py) read in the same round trip.
# ARGV: the number of windows; limit and window (seconds) for each counter, in order.
# A version counter that does not exist yet starts at the server's clock in
# microseconds (devskyy/core/versions.py initial_value), so the arguments of a client's
# check never change and its packed command is built once.
# Returns {allowed, binding index (0 = none), counts..., ttls_ms..., first_rejection, versions...}.
# The script runs atomically, so counting first and taking the count back when a window
# refuses is the same as checking first: a refused request spends no budget. Two
# commands per window (INCR, then PEXPIRE for a new counter or PTTL) and one MGET for
# the versions: Redis' CPU per request is part of the API's throughput (PERF P1).
_LUA = """
local n = tonumber(ARGV[1])
local counts, ttls = {}, {}
local blocked = 0
for i = 1, n do
  local count = redis.call('INCR', KEYS[i])
  local window_ms = tonumber(ARGV[2 * i + 1]) * 1000
  local ttl = window_ms
  if count == 1 then
    redis.call('PEXPIRE', KEYS[i], window_ms)
  else
    ttl = redis.call('PTTL', KEYS[i])
    if ttl < 0 then
      redis.call('PEXPIRE', KEYS[i], window_ms)
      ttl = window_ms
    end
  end
  counts[i], ttls[i] = count, ttl
  if blocked == 0 and count > tonumber(ARGV[2 * i]) then blocked = i end
end
local out = {1, 0}
local first = 0
if blocked > 0 then
  out[1], out[2] = 0, blocked
  for i = 1, n do counts[i] = redis.call('DECR', KEYS[i]) end
  if redis.call('SET', KEYS[n + 1], '1', 'NX', 'PX', ttls[blocked]) then first = 1 end
end
for i = 1, n do out[#out + 1] = counts[i] end
for i = 1, n do out[#out + 1] = ttls[i] end
out[#out + 1] = first
if #KEYS > n + 1 then
  local names = {}
  for i = n + 2, #KEYS do names[#names + 1] = KEYS[i] end
  local values = redis.call('MGET', unpack(names))
  for i, value in ipairs(values) do
    if not value then
      local now = redis.call('TIME')
      value = now[1] .. string.format('%06d', tonumber(now[2]))
      redis.call('SET', names[i], value, 'NX')
    end
    out[#out + 1] = value
  end
end
return out
"""


_forks = 0  # forks this process descends from: a child must not share its parent's socket


def _count_fork() -> None:
    global _forks
    _forks += 1


os.register_at_fork(after_in_child=_count_fork)


class _Script:
    """One Lua script called over one Redis connection per thread.

    The limiter runs on every API request; redis-py's client layers around a call
    (pool check-out with a readiness poll, retry wrapper, argument deprecation shim,
    response callbacks) cost more CPU than the round trip itself (bench/README.md,
    PERF P1). The connection is redis-py's own (same URL parsing, TLS, timeouts, health
    check and reply parser). A call does not retry after a timeout (the script may have
    run; the limiter falls back instead of counting twice); a connection error is tried
    once more on a new connection (a server restart drops idle connections).
    """

    def __init__(self, url: str, source: str, **connection_kwargs: Any) -> None:
        pool = redis.ConnectionPool.from_url(url, **connection_kwargs)
        self._connection_class = pool.connection_class
        self._connection_kwargs = pool.connection_kwargs
        self._source = source.encode()
        self._sha = hashlib.sha1(self._source, usedforsecurity=False).hexdigest()
        self._local = threading.local()

    def _connection(self) -> Any:
        held = self._local.__dict__.get("held")  # not getattr: a miss raises and catches
        if held is None or held[0] != _forks:  # first call in this thread, or a forked child
            held = (_forks, self._connection_class(**self._connection_kwargs))
            self._local.held = held
        return held[1]

    def pack(self, keys: Sequence[str], args: Sequence[int]) -> tuple[bytes, Sequence[str], Sequence[int]]:
        """The EVALSHA command for ``keys`` and ``args``, packed once into one byte string
        (a caller may keep it; the event loop's connection sends the same bytes)."""
        connection = self._connection()
        return b"".join(connection.pack_command("EVALSHA", self._sha, len(keys), *keys, *args)), keys, args

    def __call__(self, packed: tuple[bytes, Sequence[str], Sequence[int]]) -> Any:
        command, keys, args = packed
        connection = self._connection()
        for attempt in (1, 2):
            try:
                connection.send_packed_command((command,))  # redis-py sends each piece given
                return connection.read_response()
            except NoScriptError:  # Redis restarted or flushed its scripts: EVAL loads it again
                connection.send_packed_command(connection.pack_command("EVAL", self._source, len(keys), *keys, *args))
                return connection.read_response()
            except redis.ConnectionError:
                connection.disconnect()
                if attempt == 2:
                    raise
            except BaseException:
                connection.disconnect()  # a reply may still be on its way: never reuse the socket
                raise
        raise AssertionError("unreachable")  # pragma: no cover

    def close(self) -> None:
        """Close this thread's connection (tests)."""
        held = getattr(self._local, "held", None)
        if held is not None:
            held[1].disconnect()


@dataclass(frozen=True)
class Window:
    name: str
    limit: int
    seconds: int
    scope: str | None = None  # counted for this key instead of the client identity


@dataclass(frozen=True)
class Decision:
    allowed: bool
    limit: int
    remaining: int
    reset_after: int  # seconds until the binding window ends
    first_rejection: bool = False  # first refusal of this client in this window
    backend: str = "redis"
    # Version counters read in the same round trip (Redis backend only).
    versions: dict[str, int] | None = None


def _decide(
    windows: Sequence[Window], allowed: bool, blocked: int, counts: Sequence[int], ttls_ms: Sequence[int]
) -> Decision:
    """Pick the window the client is closest to exhausting (the one headers report)."""
    if not allowed:
        index = blocked - 1
        window = windows[index]
        return Decision(False, window.limit, 0, max(1, math.ceil(ttls_ms[index] / 1000)))
    best: tuple[int, int, int] | None = None  # (remaining, reset, limit)
    for window, count, ttl in zip(windows, counts, ttls_ms, strict=True):
        candidate = (max(0, window.limit - count), max(1, math.ceil(ttl / 1000)), window.limit)
        if best is None or candidate[:2] < best[:2]:
            best = candidate
    assert best is not None  # noqa: S101 - at least one window is always checked
    return Decision(True, best[2], best[0], best[1])


class LocalLimiter:
    """The same fixed windows in process memory (embedded mode, and Redis outages)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._counters: dict[str, tuple[int, float]] = {}  # key -> (count, expires at, monotonic)
        self._rejected: dict[str, float] = {}

    def _prune(self, now: float) -> None:
        if len(self._counters) + len(self._rejected) < _LOCAL_MAX_KEYS:
            return
        self._counters = {k: v for k, v in self._counters.items() if v[1] > now}
        self._rejected = {k: v for k, v in self._rejected.items() if v > now}

    def hit(self, keys: Sequence[str], rejected_key: str, windows: Sequence[Window]) -> Decision:
        now = time.monotonic()
        with self._lock:
            self._prune(now)
            counts: list[int] = []
            ttls: list[int] = []
            blocked = 0
            for index, (key, window) in enumerate(zip(keys, windows, strict=True), start=1):
                count, expires = self._counters.get(key, (0, 0.0))
                if expires <= now:
                    count, expires = 0, now + window.seconds
                counts.append(count)
                ttls.append(int((expires - now) * 1000))
                if not blocked and count >= window.limit:
                    blocked = index
            if blocked:
                first = self._rejected.get(rejected_key, 0.0) <= now
                if first:
                    self._rejected[rejected_key] = now + ttls[blocked - 1] / 1000
                decision = _decide(windows, False, blocked, counts, ttls)
                return Decision(False, decision.limit, 0, decision.reset_after, first, "local")
            for index, key in enumerate(keys):
                count, expires = self._counters.get(key, (0, 0.0))
                if expires <= now:
                    count, expires = 0, now + windows[index].seconds
                self._counters[key] = (count + 1, expires)
                counts[index] = count + 1
                ttls[index] = int((expires - now) * 1000)
        decision = _decide(windows, True, 0, counts, ttls)
        return Decision(True, decision.limit, decision.remaining, decision.reset_after, False, "local")

    def reset(self) -> None:
        with self._lock:
            self._counters.clear()
            self._rejected.clear()


class RateLimiter:
    """Redis-backed limiter with a per-process in-memory fallback."""

    def __init__(self, redis_url: str | None, *, prefix: str, breaker_seconds: float) -> None:
        self.prefix = prefix
        self.local = LocalLimiter()
        self._breaker_seconds = breaker_seconds
        self._open_until = 0.0
        self._unavailable_log = Throttled(logger, interval=max(30.0, breaker_seconds * 6))
        self._event_next_at = 0.0
        self._event_interval = max(30.0, breaker_seconds * 6)
        self._client: redis.Redis | None = None
        self._script: _Script | None = None
        self._loop_url = redis_url or None  # plain redis:// only (loop_redis.for_url)
        self._loop_clients: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, loop_redis.LoopRedis] = (
            weakref.WeakKeyDictionary()
        )
        self._packed: dict[tuple[Any, ...], Any] = {}
        if redis_url:
            options: dict[str, Any] = {
                "socket_timeout": _REDIS_TIMEOUT_SECONDS,
                "socket_connect_timeout": _REDIS_TIMEOUT_SECONDS,
                "health_check_interval": 30,
            }
            self._client = redis.Redis.from_url(redis_url, **options)  # reset() only
            self._script = _Script(redis_url, _LUA, **options)

    @property
    def shared(self) -> bool:
        return self._client is not None

    def _keys(self, identity: str, windows: Sequence[Window]) -> tuple[list[str], str]:
        base = f"{self.prefix}:rl"
        keys = [f"{base}:{w.scope or identity}:{w.name}:{w.seconds}" for w in windows]
        return keys, f"{base}:{identity}:rejected"

    def _command(self, identity: str, windows: Sequence[Window], versions: Sequence[str]) -> Any:
        """The packed script call for this client, these windows and versions: built once
        and kept (its arguments never change), so a check costs no string building."""
        assert self._script is not None  # noqa: S101 - only called with Redis
        cache_key = (identity, tuple(windows), tuple(versions), settings.CACHE_KEY_PREFIX)
        packed = self._packed.get(cache_key)
        if packed is None:
            keys, rejected_key = self._keys(identity, windows)
            args: list[int] = [len(windows)]
            for window in windows:
                args += [window.limit, window.seconds]
            version_keys = [version_counters.key(name) for name in versions]
            packed = self._script.pack([*keys, rejected_key, *version_keys], args)
            if len(self._packed) >= _PACKED_MAX:
                self._packed.clear()
            self._packed[cache_key] = packed
        return packed

    def hit(self, identity: str, windows: Sequence[Window], versions: Sequence[str] = ()) -> Decision:
        """Count one request of ``identity`` in every window; with Redis, also read the
        named version counters (devskyy/core/versions.py) in the same round trip."""
        if self._script is None or time.monotonic() < self._open_until:
            return self.local.hit(*self._keys(identity, windows), windows)
        try:
            raw = self._script(self._command(identity, windows, versions))
        except redis.RedisError as exc:
            return self.unavailable(exc, identity, windows)
        self._open_until = 0.0
        return self._decision(raw, windows, versions)

    async def hit_from_loop(
        self, identity: str, windows: Sequence[Window], versions: Sequence[str]
    ) -> Decision | BaseException | None:
        """:meth:`hit` from the web server's event loop, without blocking it: the script
        goes over the loop's pipelined connection (devskyy/core/loop_redis.py). None when
        the loop cannot ask (no Redis, a URL only the blocking client speaks, the breaker
        open): the request's thread calls :meth:`hit`. Redis' error is returned, not
        raised: the thread then records it (:meth:`unavailable`), which needs the database."""
        if self._script is None or self._loop_url is None or time.monotonic() < self._open_until:
            return None
        loop = asyncio.get_running_loop()
        client = self._loop_clients.get(loop)
        if client is None:
            client = loop_redis.for_url(
                self._loop_url, timeout=_REDIS_TIMEOUT_SECONDS, name=f"devskyy-limiter-{os.getpid()}"
            )
            if client is None:
                self._loop_url = None  # never on the loop for this URL
                return None
            self._loop_clients[loop] = client
        command, _, _ = self._command(identity, windows, versions)
        try:
            raw = await client.call(command)
        except NoScriptError:  # Redis lost its scripts: the thread's call loads it again
            return None
        except redis.RedisError as exc:
            self._open_until = time.monotonic() + self._breaker_seconds  # the thread logs it
            return exc
        self._open_until = 0.0
        return self._decision(raw, windows, versions)

    def close_loop_connection(self) -> None:
        """Close the running loop's connection (tests; a worker's ends with its process)."""
        client = self._loop_clients.pop(asyncio.get_running_loop(), None)
        if client is not None:
            client.close()

    def unavailable(self, exc: BaseException, identity: str, windows: Sequence[Window]) -> Decision:
        """Redis failed this check: open the breaker, record it, count in process memory."""
        self._redis_failed(exc)
        return self.local.hit(*self._keys(identity, windows), windows)

    @staticmethod
    def _decision(raw: Any, windows: Sequence[Window], versions: Sequence[str]) -> Decision:
        """The script's reply (see _LUA) as a Decision."""
        n = len(windows)
        allowed = bool(int(raw[0]))
        counts = [int(v) for v in raw[2 : 2 + n]]
        ttls = [int(v) for v in raw[2 + n : 2 + 2 * n]]
        read = {name: int(value) for name, value in zip(versions, raw[3 + 2 * n :], strict=True)}
        decision = _decide(windows, allowed, int(raw[1]), counts, ttls)
        if allowed:
            return Decision(True, decision.limit, decision.remaining, decision.reset_after, versions=read)
        return Decision(False, decision.limit, 0, decision.reset_after, bool(int(raw[2 + 2 * n])), versions=read)

    def _redis_failed(self, exc: BaseException) -> None:
        now = time.monotonic()
        self._open_until = now + self._breaker_seconds
        self._unavailable_log.warning(
            "rate limiter: Redis unavailable (%s); limiting per process in memory for %.1fs",
            type(exc).__name__,
            self._breaker_seconds,
        )
        if now >= self._event_next_at:
            self._event_next_at = now + self._event_interval
            security_event(
                event_type=SecurityEvent.RATE_LIMITER_UNAVAILABLE,
                actor_label="system",
                details={"error": type(exc).__name__, "fallback": "per-process memory"},
            )

    def reset(self) -> None:
        """Forget every counter, close the breaker (tests)."""
        self.local.reset()
        self._open_until = 0.0
        if self._client is not None:
            keys = list(self._client.scan_iter(match=f"{self.prefix}:rl:*", count=500))
            if keys:
                self._client.delete(*keys)


_limiter: RateLimiter | None = None
_limiter_lock = threading.Lock()


def get_limiter() -> RateLimiter:
    global _limiter
    with _limiter_lock:
        if _limiter is None:
            _limiter = RateLimiter(
                settings.REDIS_URL or None,
                prefix=settings.CACHE_KEY_PREFIX,
                breaker_seconds=settings.REDIS_BREAKER_SECONDS,
            )
        return _limiter


# --- who is asking ---------------------------------------------------------------------
def _jwt_user_id(meta: Mapping[str, Any]) -> str | None:
    scheme, _, raw = str(meta.get("HTTP_AUTHORIZATION", "")).partition(" ")
    if scheme != "Bearer" or not raw.strip():
        return None
    try:
        token = principal_cache.access_token(raw.strip())
    except TokenError:
        return None
    user_id = token.get(jwt_settings.USER_ID_CLAIM)
    return str(user_id) if user_id is not None else None


def client_identity(request: HttpRequest) -> str:
    """``key:<prefix>``, ``user:<id>`` or ``ip:<address>``.

    Only verified credentials choose a user or key bucket (a signed, unexpired JWT; a
    valid API key; a session); anything else, including bad credentials, is counted
    against the client's IP, so guessing tokens is throttled too.
    """
    prefix = api_key_identity(request)
    if prefix is not None:
        return f"key:{prefix}"
    user_id = _jwt_user_id(request.META)
    if user_id is not None:
        return f"user:{user_id}"
    if settings.SESSION_COOKIE_NAME in request.COOKIES:
        user = getattr(request, "user", None)
        if user is not None and user.is_authenticated:
            return f"user:{user.pk}"
    return f"ip:{client_ip(request)}"


_login_path: str | None = None


def _is_login(path: str) -> bool:
    global _login_path
    if _login_path is None:
        try:
            _login_path = reverse("auth:token")
        except NoReverseMatch:
            _login_path = ""
    return path == _login_path


def windows_for(request: HttpRequest) -> list[Window]:
    return _windows(request.path, request.META)


def _windows(path: str, meta: Mapping[str, Any]) -> list[Window]:
    window = settings.RATE_LIMIT_WINDOW_SECONDS
    windows = [
        Window("minute", settings.RATE_LIMIT_PER_MINUTE, window),
        Window("hour", settings.RATE_LIMIT_PER_HOUR, HOUR),
    ]
    if _is_login(path):
        # Credential guessing: a stricter budget per client IP on the token endpoint.
        windows.append(
            Window("login", settings.LOGIN_RATE_LIMIT_PER_MINUTE, window, scope=f"login:{client_ip_from_meta(meta)}")
        )
    return windows


def _set_headers(response: HttpResponse, decision: Decision) -> None:
    response["X-RateLimit-Limit"] = str(decision.limit)
    response["X-RateLimit-Remaining"] = str(decision.remaining)
    response["X-RateLimit-Reset"] = str(decision.reset_after)


def _refuse(request: HttpRequest, identity: str, decision: Decision) -> HttpResponse:
    with contextlib.suppress(Resolver404):
        # The view never runs; resolving here keeps the route template in the metrics labels.
        request.resolver_match = resolve(request.path_info)
    if decision.first_rejection:
        security_event(
            event_type=SecurityEvent.THROTTLED,
            request=request,
            actor_label=identity,
            target_type="route",
            target_id=request.path[:150],
            details={"limit": decision.limit, "retry_after": decision.reset_after, "backend": decision.backend},
        )
    else:
        record_security_event(SecurityEvent.THROTTLED)  # counted always, audited once per window
    response = envelope_response(
        429,
        f"Rate limit exceeded: {decision.limit} requests per window. Retry in {decision.reset_after}s.",
        code="throttled",
        details={"limit": decision.limit, "retry_after": decision.reset_after},
    )
    response["Retry-After"] = str(decision.reset_after)
    _set_headers(response, decision)
    return response


_signed_paths: dict[str, Callable[[HttpRequest], bool]] = {}
_signed_paths_built_for = -1


def _signed_route_check(path: str) -> Callable[[HttpRequest], bool] | None:
    """The signature check registered for ``path`` (access.SIGNED_ROUTE_CHECKS), if any."""
    global _signed_paths_built_for
    if _signed_paths_built_for != len(SIGNED_ROUTE_CHECKS):
        paths: dict[str, Callable[[HttpRequest], bool]] = {}
        for name, route_check in SIGNED_ROUTE_CHECKS.items():
            with contextlib.suppress(NoReverseMatch):
                paths[reverse(name)] = route_check
        _signed_paths.clear()
        _signed_paths.update(paths)
        _signed_paths_built_for = len(SIGNED_ROUTE_CHECKS)
    return _signed_paths.get(path)


# --- the check made on the event loop ----------------------------------------------------
# The WSGI environ key under which check_on_loop leaves (identity, Decision or Redis' error).
CHECKED_ON_LOOP = "devskyy.ratelimit"


def _loop_identity(meta: Mapping[str, Any]) -> str | None:
    """:func:`client_identity` from what the event loop knows without the database; None
    when only the request's thread can tell (a key this process has not verified yet,
    a session cookie)."""
    raw = raw_key_from_meta(meta)
    if raw is not None:
        prefix = remembered_key_prefix(raw)
        return None if prefix is None else f"key:{prefix}"
    user_id = _jwt_user_id(meta)
    if user_id is not None:
        return f"user:{user_id}"
    cookie = meta.get("HTTP_COOKIE")
    if cookie and settings.SESSION_COOKIE_NAME in parse_cookie(cookie):
        return None
    return f"ip:{client_ip_from_meta(meta)}"


async def check_on_loop(path: str, environ: dict[str, Any]) -> None:
    """On the web server's event loop, before the request goes to its thread
    (devskyy/wsgi_bridge.py): count the request, and read the version counters, without
    blocking a thread on Redis (devskyy/core/loop_redis.py). The outcome waits in
    ``environ[CHECKED_ON_LOOP]`` for :class:`RateLimitMiddleware`; where the loop cannot
    decide, nothing is left and the middleware checks as before."""
    if not path.startswith("/api/") or environ.get("SCRIPT_NAME") or _signed_route_check(path) is not None:
        return
    limiter = get_limiter()
    if not limiter.shared:
        return
    identity = _loop_identity(environ)
    if identity is None:
        return
    outcome = await limiter.hit_from_loop(identity, _windows(path, environ), version_counters.registered())
    if outcome is not None:
        environ[CHECKED_ON_LOOP] = (identity, outcome)


class RateLimitMiddleware:
    """Applies the limits to /api/ paths (probes and admin are not limited)."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        if not request.path.startswith("/api/"):
            return self.get_response(request)
        check = _signed_route_check(request.path)
        if check is not None and check(request):
            # A verified delivery from a signed public route (WooCommerce webhooks): never refused.
            return self.get_response(request)
        checked = request.META.get(CHECKED_ON_LOOP)
        if checked is None:
            identity = client_identity(request)
            decision = get_limiter().hit(identity, windows_for(request), version_counters.registered())
        elif isinstance(checked[1], Decision):
            identity, decision = checked
        else:  # Redis failed the loop's check
            identity = checked[0]
            decision = get_limiter().unavailable(checked[1], identity, windows_for(request))
            version_counters.redis_failed_elsewhere(checked[1])
        if decision.versions is not None:
            version_counters.remember(request, decision.versions)
        if not decision.allowed:
            return _refuse(request, identity, decision)
        response = self.get_response(request)
        _set_headers(response, decision)
        return response
