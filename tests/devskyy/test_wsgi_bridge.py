"""devskyy.wsgi_bridge: HTTP from the ASGI server to a WSGI app, one thread hop each way."""

from __future__ import annotations

import asyncio
import json
import threading
from collections.abc import Iterator
from typing import Any

from devskyy.wsgi_bridge import WSGIBridge


def _scope(method: str = "GET", path: str = "/x", headers: list[tuple[bytes, bytes]] | None = None) -> dict[str, Any]:
    return {
        "type": "http",
        "method": method,
        "path": path,
        "root_path": "",
        "query_string": b"a=1",
        "http_version": "1.1",
        "scheme": "https",
        "server": ("testserver", 443),
        "client": ("127.0.0.1", 5555),
        "headers": headers or [(b"host", b"testserver")],
    }


def _call(
    app: Any, scope: dict[str, Any], chunks: list[bytes] | None = None, *, max_body: int = 1 << 20, **options: Any
) -> list[dict[str, Any]]:
    bridge = WSGIBridge(app, threads=2, max_body_bytes=max_body, **options)
    body_messages = [
        {"type": "http.request", "body": chunk, "more_body": i < len(chunks or [b""]) - 1}
        for i, chunk in enumerate(chunks or [b""])
    ]
    sent: list[dict[str, Any]] = []

    async def receive() -> dict[str, Any]:
        return body_messages.pop(0) if body_messages else {"type": "http.disconnect"}

    async def send(message: Any) -> None:
        sent.append(message)

    asyncio.run(bridge(scope, receive, send))
    bridge.executor.shutdown()
    if bridge.probe_executor is not None:
        bridge.probe_executor.shutdown()
    return sent


def _body(sent: list[dict[str, Any]]) -> bytes:
    return b"".join(m.get("body", b"") for m in sent if m["type"] == "http.response.body")


def test_a_response_is_sent_in_one_piece_with_status_and_headers() -> None:
    seen: dict[str, Any] = {}

    def app(environ: dict[str, Any], start_response: Any) -> list[bytes]:
        seen.update(environ)
        start_response("201 Created", [("Content-Type", "text/plain"), ("X-A", "1")])
        return [b"hello ", b"world"]

    sent = _call(app, _scope(headers=[(b"host", b"testserver"), (b"x-forwarded-for", b"1.2.3.4")]))
    assert sent[0] == {
        "type": "http.response.start",
        "status": 201,
        "headers": [(b"content-type", b"text/plain"), (b"x-a", b"1")],
    }
    assert sent[1:] == [{"type": "http.response.body", "body": b"hello world"}]
    assert seen["PATH_INFO"] == "/x"
    assert seen["QUERY_STRING"] == "a=1"
    assert seen["wsgi.url_scheme"] == "https"
    assert seen["REMOTE_ADDR"] == "127.0.0.1"
    assert seen["HTTP_X_FORWARDED_FOR"] == "1.2.3.4"


def test_the_body_is_read_before_the_app_runs_and_close_runs_on_the_apps_thread() -> None:
    threads: dict[str, Any] = {}

    class Result:
        def __iter__(self) -> Iterator[bytes]:
            yield b"ok"

        def close(self) -> None:
            threads["close"] = threading.get_ident()

    def app(environ: dict[str, Any], start_response: Any) -> Result:
        threads["app"] = threading.get_ident()
        threads["body"] = environ["wsgi.input"].read()
        start_response("200 OK", [])
        return Result()

    sent = _call(app, _scope("POST"), [b"a" * 10, b"b" * 10])
    assert threads["body"] == b"a" * 10 + b"b" * 10
    assert threads["close"] == threads["app"] != threading.get_ident()
    assert _body(sent) == b"ok"


def test_a_large_body_is_spooled_and_still_read_whole() -> None:
    received: list[bytes] = []

    def app(environ: dict[str, Any], start_response: Any) -> list[bytes]:
        received.append(environ["wsgi.input"].read())
        start_response("200 OK", [])
        return [b""]

    chunks = [b"x" * (512 * 1024)] * 5
    _call(app, _scope("POST"), chunks, max_body=10 << 20)
    assert received == [b"x" * (512 * 1024 * 5)]


def test_a_body_over_the_limit_gets_413_and_the_app_never_runs() -> None:
    calls: list[int] = []

    def app(environ: dict[str, Any], start_response: Any) -> list[bytes]:
        calls.append(1)
        start_response("200 OK", [])
        return [b""]

    declared = _call(app, _scope("POST", headers=[(b"content-length", b"5000")]), [b"x" * 5000], max_body=1024)
    streamed = _call(
        app, _scope("POST", headers=[(b"x-request-id", b"client-id-7")]), [b"x" * 600, b"x" * 600], max_body=1024
    )
    assert declared[0]["status"] == streamed[0]["status"] == 413
    assert not calls
    # The API's error envelope, like every other error, with the request id.
    for sent in (declared, streamed):
        assert dict(sent[0]["headers"])[b"content-type"] == b"application/json"
        error = json.loads(_body(sent))["error"]
        assert error["code"] == "payload_too_large"
        assert error["details"] == {"max_bytes": 1024}
    assert json.loads(_body(streamed))["error"]["request_id"] == "client-id-7"
    assert dict(streamed[0]["headers"])[b"x-request-id"] == b"client-id-7"


def test_a_streaming_response_is_sent_chunk_by_chunk() -> None:
    class Streaming:
        streaming = True

        def __iter__(self) -> Iterator[bytes]:
            for i in range(20):
                yield str(i).encode()

    def app(environ: dict[str, Any], start_response: Any) -> Streaming:
        start_response("200 OK", [("Content-Type", "text/plain")])
        return Streaming()

    sent = _call(app, _scope())
    bodies = [m for m in sent if m["type"] == "http.response.body"]
    assert len(bodies) == 21
    assert bodies[-1] == {"type": "http.response.body", "body": b""}
    assert _body(sent) == b"".join(str(i).encode() for i in range(20))


def test_an_app_that_raises_answers_500() -> None:
    def app(environ: dict[str, Any], start_response: Any) -> list[bytes]:
        raise RuntimeError("boom")

    sent = _call(app, _scope())
    assert sent[0]["status"] == 500
    assert _body(sent) == b"Internal Server Error"


def test_django_serves_through_the_bridge(db) -> None:
    from django.core.wsgi import get_wsgi_application

    sent = _call(get_wsgi_application(), _scope(path="/live"))
    assert sent[0]["status"] == 200
    assert b'"alive"' in _body(sent)


def test_a_probe_does_not_wait_behind_requests_holding_every_request_thread() -> None:
    release = threading.Event()
    threads: dict[str, str] = {}

    def app(environ: dict[str, Any], start_response: Any) -> list[bytes]:
        threads[environ["PATH_INFO"]] = threading.current_thread().name
        if environ["PATH_INFO"] == "/stuck":
            release.wait(timeout=10)  # a request waiting for a database that is away
        start_response("200 OK", [("Content-Type", "text/plain")])
        return [environ["PATH_INFO"].encode()]

    bridge = WSGIBridge(app, threads=1, max_body_bytes=1024, probe_paths=["/live"])
    order: list[str] = []

    async def request(path: str) -> None:
        sent: list[dict[str, Any]] = []

        async def receive() -> dict[str, Any]:
            return {"type": "http.request", "body": b"", "more_body": False}

        async def send(message: Any) -> None:
            sent.append(message)

        await bridge(_scope(path=path), receive, send)
        assert _body(sent) == path.encode()
        order.append(path)
        if path == "/live":
            release.set()

    async def main() -> None:
        stuck = asyncio.create_task(request("/stuck"))
        await asyncio.sleep(0.05)  # the only request thread is taken
        await asyncio.wait_for(request("/live"), timeout=5)
        await stuck

    asyncio.run(main())
    bridge.executor.shutdown()
    assert bridge.probe_executor is not None
    bridge.probe_executor.shutdown()
    assert order == ["/live", "/stuck"]
    assert threads["/stuck"].startswith("wsgi_")
    assert threads["/live"].startswith("wsgi-probe")


def test_before_thread_runs_on_the_loop_first_and_leaves_its_outcome_for_the_app() -> None:
    seen: dict[str, Any] = {}

    async def before_thread(path: str, environ: dict[str, Any]) -> None:
        await asyncio.sleep(0)  # it may wait (a Redis round trip) without holding a thread
        seen["hook"] = (path, threading.current_thread().name, environ["PATH_INFO"])
        environ["devskyy.test"] = "checked"

    def app(environ: dict[str, Any], start_response: Any) -> list[bytes]:
        seen["app"] = threading.current_thread().name
        start_response("200 OK", [("Content-Type", "text/plain")])
        return [environ.get("devskyy.test", "unchecked").encode()]

    sent = _call(app, _scope(path="/api/v1/x"), before_thread=before_thread)
    assert _body(sent) == b"checked"
    assert seen["hook"] == ("/api/v1/x", threading.main_thread().name, "/api/v1/x")
    assert seen["app"].startswith("wsgi_")


def test_probes_skip_before_thread_and_a_hook_that_raises_leaves_the_request_to_the_app(caplog) -> None:
    calls: list[str] = []

    async def before_thread(path: str, environ: dict[str, Any]) -> None:
        calls.append(path)
        raise RuntimeError("hook failed")

    def app(environ: dict[str, Any], start_response: Any) -> list[bytes]:
        start_response("200 OK", [("Content-Type", "text/plain")])
        return [b"served"]

    probe = _call(app, _scope(path="/live"), before_thread=before_thread, probe_paths=["/live"])
    assert _body(probe) == b"served"
    assert calls == []
    served = _call(app, _scope(path="/api/v1/x"), before_thread=before_thread, probe_paths=["/live"])
    assert (served[0]["status"], _body(served)) == (200, b"served")
    assert calls == ["/api/v1/x"]
    assert "before_thread hook raised" in caplog.text
