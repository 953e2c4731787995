"""Gunicorn worker class for the ASGI app (HTTP + WebSockets).

uvicorn with uvloop and httptools (PITFALLS: without uvicorn[standard] WebSocket
upgrades are refused). Django and Channels do not speak the lifespan protocol, so
it is off; uvicorn's access log is off because our middleware logs each request
with its request id.

HTTP connections use :class:`HttpProtocol`: uvicorn's httptools protocol whose
writes made in one turn of the event loop leave in one system call. uvicorn writes a
response's status line and headers as soon as the app starts the response, and its
body as a second write, so every response cost two sends (two system calls, two
loopback segments, two wake-ups of the reader), each holding the GIL. Coalesced, an
agents list answered 2-5% more requests per second on one pinned worker (PERF P1,
bench/README.md).
"""

from __future__ import annotations

import asyncio
import signal
from typing import Any

from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol
from uvicorn_worker import UvicornWorker

from devskyy.core.logging import flush_console_handlers


class CoalescingTransport:
    """A transport whose ``write`` calls made in one loop turn go out as one ``writelines``
    at the end of that turn (uvloop sends the pieces with one ``writev``, without joining
    them). ``close`` sends what is waiting first; everything else is the transport's own."""

    __slots__ = ("_loop", "_pending", "_transport")

    def __init__(self, transport: asyncio.Transport, loop: asyncio.AbstractEventLoop) -> None:
        self._transport = transport
        self._loop = loop
        self._pending: list[bytes] | None = None

    def write(self, data: bytes) -> None:
        if self._pending is None:
            self._pending = [data]
            self._loop.call_soon(self.flush)
        else:
            self._pending.append(data)

    def flush(self) -> None:
        pending, self._pending = self._pending, None
        if not pending or self._transport.is_closing():
            return
        if len(pending) == 1:
            self._transport.write(pending[0])
        else:
            self._transport.writelines(pending)

    def close(self) -> None:
        self.flush()
        self._transport.close()

    def abort(self) -> None:
        self._pending = None
        self._transport.abort()

    def __getattr__(self, name: str) -> Any:
        return getattr(self._transport, name)


class HttpProtocol(HttpToolsProtocol):
    """uvicorn's httptools protocol writing through a :class:`CoalescingTransport`.
    A connection upgraded to a WebSocket hands the real transport to the WebSocket
    protocol: its frames are sent as they come."""

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        self._raw_transport = transport
        super().connection_made(CoalescingTransport(transport, asyncio.get_running_loop()))  # type: ignore[arg-type]

    def handle_websocket_upgrade(self) -> None:
        self.transport.flush()  # type: ignore[attr-defined]
        self.transport = self._raw_transport
        super().handle_websocket_upgrade()


def _write_logs_then_end(signum: int, frame: Any) -> None:
    """End the process as the signal's default action would, after writing the log lines
    that wait in memory (LOG_FLUSH_SECONDS)."""
    flush_console_handlers()
    signal.signal(signum, signal.SIG_DFL)
    signal.raise_signal(signum)


class Worker(UvicornWorker):
    """uvicorn's gunicorn worker with :class:`HttpProtocol`.

    uvicorn_worker leaves SIGTERM and SIGINT at their default action; uvicorn catches
    them while it serves, shuts down gracefully, then restores them and raises the
    signal again, which ends the process without ``atexit``: the request lines the
    console handler held (up to LOG_FLUSH_SECONDS of them) were lost at every deploy.
    The handlers installed here write them first, then end the process the same way.
    """

    CONFIG_KWARGS: dict[str, Any] = {
        "loop": "uvloop",
        "http": "devskyy.serving:HttpProtocol",
        "ws": "websockets",
        "lifespan": "off",
        "access_log": False,
        "server_header": False,
        "ws_ping_interval": 20.0,
        "ws_ping_timeout": 20.0,
        "ws_per_message_deflate": False,
    }

    def init_signals(self) -> None:
        super().init_signals()
        for signum in (signal.SIGTERM, signal.SIGINT):
            signal.signal(signum, _write_logs_then_end)
