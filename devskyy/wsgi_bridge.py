"""Plain HTTP from the ASGI server to Django's WSGI handler, one thread hop per request.

Replaces a2wsgi on the hot path (PERF P1, bench/README.md). a2wsgi crosses between
the event loop and its worker thread three times per request (start_response, each
body chunk, end of body, each a ``run_coroutine_threadsafe`` round trip), and runs
every request in a copy of the loop's context, so Django's per-context handles (the
cache client among them) were rebuilt on every request. Here:

* the request body is read on the event loop first (a slow upload holds no thread),
  in memory up to 1 MiB, spooled to a temporary file beyond; a body over
  REQUEST_BODY_MAX_BYTES is refused with 413 (the error envelope) before it is read;
* the WSGI app runs on a pool thread in that thread's own context, as under a WSGI
  server (Django's connections and cache clients persist per thread);
* a non-streaming response (every API response) is collected on the thread and its
  iterable closed there (Django's request_finished runs on the request's thread),
  then sent from the loop in one piece: one hop there, one back;
* a streaming response (static files, StreamingHttpResponse) keeps its thread, which
  hands chunks to the loop with back-pressure, like a2wsgi;
* ``before_thread`` (the rate limiter's check, devskyy/core/ratelimit.py) runs on the
  loop with the request's environ before it goes to a thread: what it awaits (a Redis
  round trip) holds no thread; it may leave its outcome in the environ for the app;
* health probes (``probe_paths``: /live, /ready, /health) run on threads of their own,
  through the same WSGI app and middleware: when the database is away, requests
  waiting for a connection (up to the connect or pool timeout) fill the request
  threads, and a probe queued behind them would answer only after they gave up
  (measured before this: /live answered after 20 s in pool mode with 8 requests
  waiting, DB_POOL_TIMEOUT=10; tests/reliability/test_postgres_outage.py pins it).
"""

from __future__ import annotations

import asyncio
import io
import itertools
import json
import logging
import sys
import tempfile
import threading
from collections.abc import Awaitable, Callable, Iterable, MutableMapping
from concurrent.futures import Future, ThreadPoolExecutor
from typing import IO, Any

logger = logging.getLogger(__name__)

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
WSGIApp = Callable[[dict[str, Any], Callable[..., Any]], Iterable[bytes]]
BeforeThread = Callable[[str, dict[str, Any]], Awaitable[None]]

_IN_MEMORY_BODY = 1024 * 1024
_STREAM_QUEUE = 8
_ERROR_500 = b"Internal Server Error"
_TEXT_PLAIN = [(b"content-type", b"text/plain; charset=utf-8")]


def build_environ(scope: Scope, body: IO[bytes]) -> dict[str, Any]:
    script_name = scope.get("root_path", "").encode("utf8").decode("latin1")
    path_info = scope["path"].encode("utf8").decode("latin1")
    if script_name and path_info.startswith(script_name):
        path_info = path_info[len(script_name) :]
    server = scope.get("server") or ("localhost", 80)
    environ: dict[str, Any] = {
        "REQUEST_METHOD": scope["method"],
        "SCRIPT_NAME": script_name,
        "PATH_INFO": path_info,
        "QUERY_STRING": scope["query_string"].decode("latin1"),
        "SERVER_NAME": server[0],
        "SERVER_PORT": str(server[1] or 0),
        "SERVER_PROTOCOL": f"HTTP/{scope['http_version']}",
        "wsgi.version": (1, 0),
        "wsgi.url_scheme": scope.get("scheme", "http"),
        "wsgi.input": body,
        "wsgi.errors": sys.stderr,
        "wsgi.multithread": True,
        "wsgi.multiprocess": True,
        "wsgi.run_once": False,
    }
    client = scope.get("client")
    if client:
        environ["REMOTE_ADDR"] = client[0]
        environ["REMOTE_PORT"] = str(client[1])
    for raw_name, raw_value in scope.get("headers", ()):
        name = raw_name.decode("latin1")
        if name == "content-length":
            key = "CONTENT_LENGTH"
        elif name == "content-type":
            key = "CONTENT_TYPE"
        else:
            key = "HTTP_" + name.upper().replace("-", "_")
        value = raw_value.decode("latin1")
        environ[key] = f"{environ[key]},{value}" if key in environ else value
    return environ


class WSGIBridge:
    """ASGI app serving ``http`` scopes with a WSGI app on a thread pool."""

    def __init__(
        self,
        app: WSGIApp,
        *,
        threads: int,
        max_body_bytes: int,
        probe_paths: Iterable[str] = (),
        probe_threads: int = 4,
        before_thread: BeforeThread | None = None,
    ) -> None:
        self.app = app
        self.before_thread = before_thread
        self.max_body_bytes = max_body_bytes
        self.executor = ThreadPoolExecutor(max_workers=threads, thread_name_prefix="wsgi")
        self.probe_paths = frozenset(probe_paths)
        self.probe_executor = (
            ThreadPoolExecutor(max_workers=probe_threads, thread_name_prefix="wsgi-probe") if self.probe_paths else None
        )

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":  # pragma: no cover - the protocol router sends only http
            raise ValueError(f"WSGIBridge serves http scopes, not {scope['type']!r}")
        body = await self._read_body(scope, receive, send)
        if body is None:
            return
        response = _Response(asyncio.get_running_loop())
        executor = self.executor
        if self.probe_executor is not None and scope["path"] in self.probe_paths:
            executor = self.probe_executor
        environ = build_environ(scope, body)
        if self.before_thread is not None and executor is self.executor:
            try:
                await self.before_thread(scope["path"], environ)
            except Exception:  # the app then decides without it, as it would without the hook
                logger.exception("before_thread hook raised")
        # The thread closes the body when the app is done with it.
        job = executor.submit(self._run, environ, response)
        job.add_done_callback(response.failed_if_raised)
        try:
            status, headers, content = await response.started
            await send({"type": "http.response.start", "status": status, "headers": headers})
            if content is not None:
                await send({"type": "http.response.body", "body": content})
                return
            while (chunk := await response.get()) is not None:
                await send({"type": "http.response.body", "body": chunk, "more_body": True})
            response.finished = True
            await send({"type": "http.response.body", "body": b""})
        finally:
            if not response.finished:
                response.abort()

    async def _read_body(self, scope: Scope, receive: Receive, send: Send) -> IO[bytes] | None:
        declared = next((v for k, v in scope.get("headers", ()) if k == b"content-length"), None)
        if declared is not None and declared.isdigit() and int(declared) > self.max_body_bytes:
            await self._refuse_too_large(scope, send)
            return None
        body: IO[bytes] = io.BytesIO()
        size = 0
        more = True
        while more:
            message = await receive()
            if message["type"] == "http.disconnect":
                body.close()
                return None
            chunk = message.get("body", b"")
            more = message.get("more_body", False)
            if not chunk:
                continue
            size += len(chunk)
            if size > self.max_body_bytes:
                body.close()
                await self._refuse_too_large(scope, send)
                return None
            if size > _IN_MEMORY_BODY and isinstance(body, io.BytesIO):
                spooled = tempfile.TemporaryFile()  # noqa: SIM115 - closed by __call__
                spooled.write(body.getvalue())
                body = spooled
            body.write(chunk)
        body.seek(0)
        return body

    async def _refuse_too_large(self, scope: Scope, send: Send) -> None:
        """413 with the API's error envelope (devskyy/core/errors.py) and a request id,
        like every other error: Django never sees this request, so it is built here."""
        from devskyy.core.context import new_request_id

        incoming = next((v for k, v in scope.get("headers", ()) if k == b"x-request-id"), b"")
        request_id = new_request_id(incoming.decode("latin1"))
        body = json.dumps(
            {
                "error": {
                    "code": "payload_too_large",
                    "message": f"Request body larger than {self.max_body_bytes} bytes.",
                    "details": {"max_bytes": self.max_body_bytes},
                    "request_id": request_id,
                }
            }
        ).encode()
        headers = [
            (b"content-type", b"application/json"),
            (b"content-length", str(len(body)).encode()),
            (b"x-request-id", request_id.encode()),
        ]
        await send({"type": "http.response.start", "status": 413, "headers": headers})
        await send({"type": "http.response.body", "body": body})

    def _run(self, environ: dict[str, Any], response: _Response) -> None:
        """On a pool thread: run the app, hand status, headers and body to the loop."""
        try:
            self._respond(environ, response)
        finally:
            environ["wsgi.input"].close()

    def _respond(self, environ: dict[str, Any], response: _Response) -> None:
        started: list[Any] = []
        written: list[bytes] = []

        def start_response(
            status: str, headers: list[tuple[str, str]], exc_info: Any = None
        ) -> Callable[[bytes], None]:
            started[:] = [status, headers]
            return written.append

        try:
            iterable = self.app(environ, start_response)
        except Exception:
            logger.exception("WSGI app raised")
            response.start(500, _TEXT_PLAIN, _ERROR_500)
            return
        try:
            streaming = getattr(iterable, "streaming", False)
            if not streaming:
                content = b"".join([*written, *iterable])
        except Exception:
            logger.exception("WSGI response iteration raised")
            _close(iterable)
            response.start(500, _TEXT_PLAIN, _ERROR_500)
            return
        if not streaming:
            _close(iterable)  # request_finished runs here, on the request's thread
            response.start(*_status_headers(started), content)
            return
        response.start(*_status_headers(started), None)
        try:
            for chunk in itertools.chain(written, iterable):
                if chunk and not response.put(chunk):
                    break  # the client is gone
        except Exception:
            logger.exception("WSGI streaming response raised")
        finally:
            _close(iterable)
            response.put(None)


class _Response:
    """What a pool thread hands to the event loop: the start, then streamed chunks."""

    def __init__(self, loop: asyncio.AbstractEventLoop) -> None:
        self.loop = loop
        self.started: asyncio.Future[tuple[int, list[tuple[bytes, bytes]], bytes | None]] = loop.create_future()
        self.chunks: asyncio.Queue[bytes | None] = asyncio.Queue()
        self.finished = False
        self._room = threading.Semaphore(_STREAM_QUEUE)
        self._aborted = threading.Event()

    def start(self, status: int, headers: list[tuple[bytes, bytes]], content: bytes | None) -> None:
        def resolve() -> None:
            if not self.started.done():
                self.started.set_result((status, headers, content))

        self.loop.call_soon_threadsafe(resolve)

    def put(self, chunk: bytes | None) -> bool:
        """From the thread: queue a chunk (None ends the body); False once aborted.

        At most _STREAM_QUEUE chunks wait for the loop (back-pressure on the thread)."""
        while not self._room.acquire(timeout=1):
            if self._aborted.is_set():
                return False
        if self._aborted.is_set():
            return False
        self.loop.call_soon_threadsafe(self.chunks.put_nowait, chunk)
        return True

    async def get(self) -> bytes | None:
        chunk = await self.chunks.get()
        self._room.release()
        return chunk

    def failed_if_raised(self, job: Future[None]) -> None:
        """Done callback of the thread's job: an escaped exception still answers 500."""
        if job.exception() is not None:
            self.start(500, _TEXT_PLAIN, _ERROR_500)

    def abort(self) -> None:
        """From the loop: nobody reads further chunks; let a streaming thread finish."""
        self._aborted.set()
        self.finished = True


def _close(iterable: Iterable[bytes]) -> None:
    close = getattr(iterable, "close", None)
    if close is not None:
        try:
            close()
        except Exception:
            logger.exception("closing the WSGI response raised")


def _status_headers(started: list[Any]) -> tuple[int, list[tuple[bytes, bytes]]]:
    if not started:
        return 500, _TEXT_PLAIN
    status, headers = started
    return int(status.split(" ", 1)[0]), [
        (name.lower().encode("latin1"), value.encode("latin1")) for name, value in headers
    ]
