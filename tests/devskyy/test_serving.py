"""devskyy.serving: the production HTTP protocol sends a response's pieces together."""

from __future__ import annotations

import asyncio
import socket
import threading
import time
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
import uvicorn
from websockets.sync.client import connect

from devskyy.serving import CoalescingTransport, HttpProtocol, Worker


class _RecordingTransport:
    """Stands in for uvloop's transport: records what reaches it, in order."""

    def __init__(self) -> None:
        self.calls: list[tuple[str, Any]] = []
        self.closing = False

    def write(self, data: bytes) -> None:
        self.calls.append(("write", data))

    def writelines(self, pieces: list[bytes]) -> None:
        self.calls.append(("writelines", list(pieces)))

    def close(self) -> None:
        self.calls.append(("close", None))
        self.closing = True

    def abort(self) -> None:
        self.calls.append(("abort", None))
        self.closing = True

    def is_closing(self) -> bool:
        return self.closing

    def get_extra_info(self, name: str, default: Any = None) -> Any:
        return {"peername": ("127.0.0.1", 1)}.get(name, default)


def _turns(body: Any) -> _RecordingTransport:
    """Run ``body(coalescing, raw)`` on a loop, then let the loop finish its turns."""
    raw = _RecordingTransport()

    async def main() -> None:
        coalescing = CoalescingTransport(raw, asyncio.get_running_loop())  # type: ignore[arg-type]
        await body(coalescing, raw)
        await asyncio.sleep(0)

    asyncio.run(main())
    return raw


def test_writes_in_one_loop_turn_leave_together_in_order() -> None:
    async def body(transport: CoalescingTransport, raw: _RecordingTransport) -> None:
        transport.write(b"HTTP/1.1 200 OK\r\n\r\n")
        transport.write(b"body")
        assert raw.calls == []  # nothing sent before the turn ends

    assert _turns(body).calls == [("writelines", [b"HTTP/1.1 200 OK\r\n\r\n", b"body"])]


def test_a_single_write_is_sent_as_it_is_and_later_turns_send_again() -> None:
    async def body(transport: CoalescingTransport, raw: _RecordingTransport) -> None:
        transport.write(b"one")
        await asyncio.sleep(0)
        transport.write(b"two")

    assert _turns(body).calls == [("write", b"one"), ("write", b"two")]


def test_close_sends_what_waits_before_closing() -> None:
    async def body(transport: CoalescingTransport, raw: _RecordingTransport) -> None:
        transport.write(b"last words")
        transport.close()

    assert _turns(body).calls == [("write", b"last words"), ("close", None)]


def test_abort_drops_what_waits_and_a_closed_transport_gets_nothing() -> None:
    async def aborted(transport: CoalescingTransport, raw: _RecordingTransport) -> None:
        transport.write(b"never")
        transport.abort()

    assert _turns(aborted).calls == [("abort", None)]

    async def closed_under_it(transport: CoalescingTransport, raw: _RecordingTransport) -> None:
        transport.write(b"too late")
        raw.closing = True  # the connection was lost before the turn ended

    assert _turns(closed_under_it).calls == []


def test_other_transport_methods_are_the_transports_own() -> None:
    async def body(transport: CoalescingTransport, raw: _RecordingTransport) -> None:
        assert transport.get_extra_info("peername") == ("127.0.0.1", 1)
        assert transport.is_closing() is False

    _turns(body)


def test_the_production_worker_uses_the_coalescing_protocol() -> None:
    assert Worker.CONFIG_KWARGS["http"] == "devskyy.serving:HttpProtocol"
    assert Worker.CONFIG_KWARGS["loop"] == "uvloop"


# --- a real uvicorn server with the protocol ---------------------------------------------


async def _app(scope: dict[str, Any], receive: Any, send: Any) -> None:
    if scope["type"] == "websocket":
        await receive()  # connect
        await send({"type": "websocket.accept"})
        while True:
            message = await receive()
            if message["type"] == "websocket.disconnect":
                return
            await send({"type": "websocket.send", "text": "echo:" + message["text"]})
    if scope["path"] == "/stream":
        await send({"type": "http.response.start", "status": 200, "headers": [(b"content-type", b"text/plain")]})
        for n in range(3):
            await send({"type": "http.response.body", "body": f"part{n};".encode(), "more_body": True})
            await asyncio.sleep(0.01)  # each piece in its own loop turn
        await send({"type": "http.response.body", "body": b""})
        return
    body = (scope["path"] * 5000).encode()  # large enough to need more than one segment
    headers = [(b"content-type", b"text/plain"), (b"content-length", str(len(body)).encode())]
    await send({"type": "http.response.start", "status": 200, "headers": headers})
    await send({"type": "http.response.body", "body": body})


@pytest.fixture(scope="module")
def server_url() -> Iterator[str]:
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    config = uvicorn.Config(
        _app, http=HttpProtocol, loop="uvloop", ws="websockets", lifespan="off", log_level="warning"
    )
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not server.started:
        assert time.monotonic() < deadline, "uvicorn did not start"
        time.sleep(0.02)
    yield f"127.0.0.1:{sock.getsockname()[1]}"
    server.should_exit = True
    thread.join(timeout=10)


def test_responses_on_one_kept_alive_connection_arrive_whole(server_url: str) -> None:
    with httpx.Client(base_url=f"http://{server_url}") as client:
        for path in ("/a", "/bb", "/a"):
            response = client.get(path)
            assert response.status_code == 200
            assert response.content == (path * 5000).encode()
            assert response.headers["content-length"] == str(len(path) * 5000)
        assert client.get("/stream").text == "part0;part1;part2;"


def test_a_websocket_upgrade_still_works_on_the_real_transport(server_url: str) -> None:
    with connect(f"ws://{server_url}/ws") as websocket:
        websocket.send("hi")
        assert websocket.recv(timeout=5) == "echo:hi"
        websocket.send("again")
        assert websocket.recv(timeout=5) == "echo:again"
