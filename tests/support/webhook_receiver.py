"""A webhook receiver on loopback for tests: scripted answers, signature checked like a real one.

``answers`` is consumed one status per request (then ``default_status``). Every
request is recorded with its headers, body and whether the ``X-DevSkyy-Signature``
verified under ``secret`` (set once the subscription exists). ``accepted`` lists the
bodies the receiver took (2xx and a valid signature), de-duplicated by
``X-DevSkyy-Delivery`` as a receiver should. ``on_request`` runs while the sender waits
for the answer.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from devskyy.webhooks.signing import verify


@dataclass
class Received:
    headers: dict[str, str]
    body: bytes
    signature_ok: bool
    status: int


@dataclass
class Receiver:
    url: str
    port: int
    answers: list[int] = field(default_factory=list)
    default_status: int = 200
    secret: str = ""
    requests: list[Received] = field(default_factory=list)
    accepted: dict[str, bytes] = field(default_factory=dict)
    lock: threading.Lock = field(default_factory=threading.Lock)
    on_request: Callable[[], None] | None = None  # runs before the answer goes back (a fault to inject)

    def handle(self, headers: dict[str, str], body: bytes) -> int:
        if self.on_request is not None:
            self.on_request()
        with self.lock:
            ok = bool(self.secret) and verify(self.secret, body, headers.get("X-DevSkyy-Signature", ""))
            status = self.answers.pop(0) if self.answers else self.default_status
            if not ok:
                status = 401
            self.requests.append(Received(headers, body, ok, status))
            if 200 <= status < 300:
                self.accepted.setdefault(headers.get("X-DevSkyy-Delivery", ""), body)
            return status


@contextmanager
def webhook_receiver() -> Iterator[Receiver]:
    holder: dict[str, Receiver] = {}

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:  # noqa: N802 - http.server API
            length = int(self.headers.get("Content-Length", "0"))
            body = self.rfile.read(length)
            status = holder["r"].handle(dict(self.headers.items()), body)
            payload = b'{"ok": true}' if status < 300 else b'{"ok": false}'
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(payload)))
            self.end_headers()
            self.wfile.write(payload)

        def log_message(self, format: str, *args: Any) -> None:  # noqa: A002
            return

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    port = server.server_address[1]
    holder["r"] = Receiver(url=f"http://127.0.0.1:{port}/hooks/devskyy", port=port)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield holder["r"]
    finally:
        server.shutdown()
        server.server_close()
