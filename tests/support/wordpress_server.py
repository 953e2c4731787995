"""A local WordPress REST API (``/wp-json/wp/v2``) for tests, on loopback only.

Speaks the documented shapes for posts and pages (create: POST to the collection,
201; update: POST to ``/<id>``, 200; read: GET ``/<id>``; unknown id: 404
``rest_post_invalid_id``) and checks application-password auth as WordPress does:
HTTP Basic with the user's login and the password (spaces removed); a wrong one gets
401 ``incorrect_password``, none at all 401 ``rest_cannot_create``.

``fail``: scripted faults, one per request, each (status, Retry-After or None).
``requests``: every request received (method, path, body, whether auth was valid).
"""

from __future__ import annotations

import base64
import json
import re
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

_ITEM = re.compile(r"^/wp-json/wp/v2/(posts|pages)(?:/(\d+))?/?$")
_ERRORS = {
    "incorrect_password": (401, "The provided password is an invalid application password."),
    "rest_cannot_create": (401, "Sorry, you are not allowed to create posts as this user."),
    "rest_post_invalid_id": (404, "Invalid post ID."),
    "internal_server_error": (500, "There has been a critical error on this website."),
    "rest_too_many_requests": (429, "Too many requests."),
}


@dataclass
class WordPressServer:
    url: str
    user: str
    app_password: str  # as shown by WordPress: groups of four separated by spaces
    fail: list[tuple[int, str | None]] = field(default_factory=list)
    objects: dict[int, dict[str, Any]] = field(default_factory=dict)
    requests: list[dict[str, Any]] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)
    next_id: int = 100

    def authorised(self, header: str | None) -> bool | None:
        if not header or not header.startswith("Basic "):
            return None
        try:
            user, _, password = base64.b64decode(header[6:]).decode().partition(":")
        except ValueError:
            return False
        return user == self.user and password.replace(" ", "") == self.app_password.replace(" ", "")

    def shape(self, obj: dict[str, Any]) -> dict[str, Any]:
        kind = obj["type"]
        return {
            "id": obj["id"],
            "date_gmt": obj["date_gmt"],
            "modified_gmt": obj["modified_gmt"],
            "slug": obj["slug"],
            "status": obj["status"],
            "type": kind,
            "link": f"{self.url}/{'?p' if kind == 'post' else '?page_id'}={obj['id']}",
            "title": {"raw": obj["title"], "rendered": obj["title"]},
            "content": {"raw": obj["content"], "rendered": obj["content"], "protected": False},
            "excerpt": {"raw": obj.get("excerpt", ""), "rendered": obj.get("excerpt", ""), "protected": False},
        }

    def handle(self, method: str, path: str, headers: dict[str, str], body: bytes) -> tuple[int, dict[str, str], Any]:
        with self.lock:
            auth = self.authorised(headers.get("Authorization"))
            data: dict[str, Any] = json.loads(body) if body else {}
            self.requests.append({"method": method, "path": path, "body": data, "auth": auth})
            if self.fail:
                status, retry_after = self.fail.pop(0)
                code = next(c for c, (s, _) in _ERRORS.items() if s == status)
                extra = {"Retry-After": retry_after} if retry_after else {}
                return status, extra, _error(code)
            match = _ITEM.match(path)
            if match is None:
                return 404, {}, {"code": "rest_no_route", "message": "No route was found.", "data": {"status": 404}}
            if auth is False:
                return 401, {}, _error("incorrect_password")
            kind = "post" if match.group(1) == "posts" else "page"
            object_id = int(match.group(2)) if match.group(2) else None
            if method == "POST" and auth is None:
                return 401, {}, _error("rest_cannot_create")
            now = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S")
            if object_id is not None and (object_id not in self.objects or self.objects[object_id]["type"] != kind):
                return 404, {}, _error("rest_post_invalid_id")
            if method == "GET" and object_id is not None:
                return 200, {}, self.shape(self.objects[object_id])
            if method == "POST" and object_id is None:
                self.next_id += 1
                title = str(data.get("title", ""))
                obj = {
                    "id": self.next_id,
                    "type": kind,
                    "title": title,
                    "content": str(data.get("content", "")),
                    "excerpt": str(data.get("excerpt", "")),
                    "status": data.get("status", "draft"),
                    "slug": data.get("slug") or re.sub(r"[^a-z0-9]+", "-", title.lower()).strip("-"),
                    "date_gmt": now,
                    "modified_gmt": now,
                }
                self.objects[obj["id"]] = obj
                return 201, {}, self.shape(obj)
            if method == "POST" and object_id is not None:
                obj = self.objects[object_id]
                for key in ("title", "content", "excerpt", "status", "slug"):
                    if key in data:
                        obj[key] = data[key]
                obj["modified_gmt"] = now
                return 200, {}, self.shape(obj)
            return 405, {}, {"code": "rest_no_route", "message": "No route.", "data": {"status": 405}}


def _error(code: str) -> dict[str, Any]:
    status, message = _ERRORS[code]
    return {"code": code, "message": message, "data": {"status": status}}


@contextmanager
def wordpress_server(
    user: str = "editor",
    app_password: str = "abcd EFGH 1234 ijkl MNOP 5678",  # noqa: S107 - the local test server's own password
) -> Iterator[WordPressServer]:
    holder: dict[str, WordPressServer] = {}

    class Handler(BaseHTTPRequestHandler):
        def _serve(self) -> None:
            length = int(self.headers.get("Content-Length", "0"))
            status, extra, payload = holder["s"].handle(
                self.command, self.path.split("?", 1)[0], dict(self.headers.items()), self.rfile.read(length)
            )
            raw = json.dumps(payload).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json; charset=UTF-8")
            self.send_header("Content-Length", str(len(raw)))
            for key, value in extra.items():
                self.send_header(key, value)
            self.end_headers()
            self.wfile.write(raw)

        do_GET = do_POST = _serve  # noqa: N815 - http.server API

        def log_message(self, format: str, *args: Any) -> None:  # noqa: A002
            return

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    holder["s"] = WordPressServer(
        url=f"http://127.0.0.1:{server.server_address[1]}", user=user, app_password=app_password
    )
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield holder["s"]
    finally:
        server.shutdown()
        server.server_close()
