"""Redis from the web server's event loop: one connection per loop, commands pipelined.

The rate limiter's round trip ran on the request's pool thread, which blocked in
``recv`` and then waited for the GIL again. Under load that wait cost the worker far
more CPU than the round trip itself (PERF P1, bench/README.md, fourteenth session: 500
us of worker CPU per API request against 320 without the round trip, and a 70 us
``time.sleep`` in its place cost 125 us). Sent from the event loop instead, the command is a
non-blocking write and its reply one more ready socket for the loop's next turn, and
the commands of concurrent requests share one connection (Redis answers in order).

Plain ``redis://`` URLs only (host, port, database, user and password); anything else
(``rediss://``, a unix socket) returns None from :func:`for_url`, and callers keep the
request thread's blocking client, which speaks every form.
"""

from __future__ import annotations

import asyncio
import collections
from typing import Any, cast
from urllib.parse import unquote, urlparse

import hiredis
import redis


class _Link(asyncio.Protocol):
    """One connection: replies resolve the waiting futures in the order sent."""

    def __init__(self, timeout: float) -> None:
        self.timeout = timeout
        self.transport: asyncio.Transport | None = None
        self.reader = hiredis.Reader()
        self.waiting: collections.deque[tuple[asyncio.Future[Any], float]] = collections.deque()
        self.broken: BaseException | None = None
        self._watchdog: asyncio.TimerHandle | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = cast(asyncio.Transport, transport)  # uvloop's is not a subclass

    def send(self, command: bytes) -> asyncio.Future[Any]:
        loop = asyncio.get_running_loop()
        reply: asyncio.Future[Any] = loop.create_future()
        if self.broken is not None or self.transport is None or self.transport.is_closing():
            reply.set_exception(redis.ConnectionError("Redis connection lost"))
            return reply
        self.waiting.append((reply, loop.time() + self.timeout))
        self.transport.write(command)
        if self._watchdog is None:
            self._watchdog = loop.call_at(self.waiting[0][1], self._check_deadline)
        return reply

    def _check_deadline(self) -> None:
        self._watchdog = None
        if not self.waiting:
            return
        loop = asyncio.get_running_loop()
        deadline = self.waiting[0][1]
        if loop.time() >= deadline:
            self.fail(redis.TimeoutError(f"Redis did not answer within {self.timeout}s"))
        else:
            self._watchdog = loop.call_at(deadline, self._check_deadline)

    def data_received(self, data: bytes) -> None:
        self.reader.feed(data)
        while self.waiting:
            try:
                value = self.reader.gets()
            except hiredis.ProtocolError as exc:
                self.fail(redis.ConnectionError(f"Redis protocol error: {exc}"))
                return
            if value is False:
                return
            reply, _ = self.waiting.popleft()
            if reply.done():  # the caller went away (cancelled): its answer is dropped
                continue
            if isinstance(value, hiredis.ReplyError):
                reply.set_exception(_error_reply(str(value)))
            else:
                reply.set_result(value)

    def connection_lost(self, exc: Exception | None) -> None:
        self.fail(redis.ConnectionError(f"Redis connection lost: {exc or 'closed by the server'}"))

    def fail(self, exc: BaseException) -> None:
        """Every waiting command fails; the connection is not used again."""
        if self.broken is None:
            self.broken = exc
        if self._watchdog is not None:
            self._watchdog.cancel()
            self._watchdog = None
        while self.waiting:
            reply, _ = self.waiting.popleft()
            if not reply.done():
                reply.set_exception(exc)
        if self.transport is not None and not self.transport.is_closing():
            self.transport.abort()


def _error_reply(message: str) -> redis.ResponseError:
    if message.startswith("NOSCRIPT"):
        return redis.exceptions.NoScriptError(message)
    return redis.ResponseError(message)


class LoopRedis:
    """Pipelined commands over one connection of the running event loop (one per process
    and loop). A command that cannot be answered within ``timeout`` seconds, and every
    command waiting with it, fails with a ``redis.RedisError``; the next call reconnects."""

    def __init__(
        self,
        host: str,
        port: int,
        *,
        db: int,
        username: str | None,
        password: str | None,
        timeout: float,
        name: str = "",
    ) -> None:
        self.host, self.port, self.db = host, port, db
        self.username, self.password = username, password
        self.timeout = timeout
        self.name = name  # CLIENT SETNAME: what an operator sees in CLIENT LIST
        self._link: _Link | None = None
        self._connecting: asyncio.Future[_Link] | None = None

    async def call(self, command: bytes) -> Any:
        """Send one packed command (RESP bytes); its reply (hiredis' types: bytes, int, list)."""
        link = self._link
        if link is None or link.broken is not None:
            link = await self._connect()
        return await link.send(command)

    async def _connect(self) -> _Link:
        if self._connecting is not None:  # another request is connecting: share its connection
            return await asyncio.shield(self._connecting)
        loop = asyncio.get_running_loop()
        self._connecting = loop.create_future()
        try:
            link = await self._open(loop)
        except BaseException as exc:
            error = exc if isinstance(exc, redis.RedisError) else redis.ConnectionError(f"Redis unreachable: {exc!r}")
            self._connecting.set_exception(error)
            self._connecting.exception()  # retrieved: no "never retrieved" warning if nobody shared it
            self._connecting = None
            if isinstance(exc, asyncio.CancelledError | KeyboardInterrupt | SystemExit):
                raise  # this caller was cancelled; the others sharing the attempt get the error
            raise error from exc
        self._link = link
        self._connecting.set_result(link)
        self._connecting = None
        return link

    async def _open(self, loop: asyncio.AbstractEventLoop) -> _Link:
        hello: list[tuple[Any, ...]] = []
        if self.password is not None:
            hello.append(("AUTH", self.username, self.password) if self.username else ("AUTH", self.password))
        if self.db:
            hello.append(("SELECT", self.db))
        if self.name:
            hello.append(("CLIENT", "SETNAME", self.name))
        async with asyncio.timeout(self.timeout):
            _, link = await loop.create_connection(lambda: _Link(self.timeout), self.host, self.port)
            try:
                for args in hello:  # a refusal (wrong password) raises here, as redis-py does
                    await link.send(hiredis.pack_command(args))
            except BaseException as exc:
                link.fail(exc)  # closes the connection
                raise
        return link

    def close(self) -> None:
        if self._link is not None:
            self._link.fail(redis.ConnectionError("closed"))
            self._link = None


def for_url(url: str, *, timeout: float, name: str = "") -> LoopRedis | None:
    """A :class:`LoopRedis` for a plain ``redis://host:port/db`` URL, else None."""
    parsed = urlparse(url)
    if parsed.scheme != "redis" or not parsed.hostname or parsed.query:
        return None
    path = parsed.path.strip("/")
    if path and not path.isdigit():
        return None
    return LoopRedis(
        parsed.hostname,
        parsed.port or 6379,
        db=int(path or 0),
        username=unquote(parsed.username) if parsed.username else None,
        password=unquote(parsed.password) if parsed.password is not None else None,
        timeout=timeout,
        name=name,
    )
