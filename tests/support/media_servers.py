"""Local Tripo and FASHN APIs for tests, on loopback only, plus real small files.

``tripo_server()`` speaks Tripo's OpenAPI v2 (``/v2/openapi/upload``, ``/task``,
``/task/{id}``) and ``fashn_server()`` FASHN's v1 (``/v1/run``, ``/v1/status/{id}``) as
their documentation describes them: Bearer auth checked on every API call (401 with
the provider's error body otherwise), request bodies validated (task type, prompt,
file token, model name, inputs, category), and task status that advances one step per
status poll following ``script`` (e.g. ``["queued", "running:40", "success"]``; the
last entry repeats, so ``["running:10"]`` never finishes). Finished tasks name output
URLs on the same server (``/files/...``): a real glTF 2.0 binary (``minimal_glb()``)
and real PNG images (``png()``).

``faults[op]``: scripted answers for the next requests of one operation (``upload``,
``create``, ``status``, ``file``), each ``(status, retry_after or None, error name or
None)``; the provider's documented error bodies are sent. ``requests`` records every
request (operation, auth valid, JSON body or upload size).
"""

from __future__ import annotations

import base64
import binascii
import email.parser
import email.policy
import json
import re
import struct
import threading
import uuid
import zlib
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

Answer = tuple[int, dict[str, str], bytes]


# --- real small files ---------------------------------------------------------------------------------
def minimal_glb() -> bytes:
    """A valid glTF 2.0 binary: one triangle (three float32 VEC3 positions)."""
    positions = struct.pack("<9f", 0, 0, 0, 1, 0, 0, 0, 1, 0)
    gltf = {
        "asset": {"version": "2.0", "generator": "devskyy tests"},
        "scene": 0,
        "scenes": [{"nodes": [0]}],
        "nodes": [{"mesh": 0}],
        "meshes": [{"primitives": [{"attributes": {"POSITION": 0}}]}],
        "buffers": [{"byteLength": len(positions)}],
        "bufferViews": [{"buffer": 0, "byteOffset": 0, "byteLength": len(positions)}],
        "accessors": [
            {"bufferView": 0, "componentType": 5126, "count": 3, "type": "VEC3", "max": [1, 1, 0], "min": [0, 0, 0]}
        ],
    }
    json_chunk = json.dumps(gltf, separators=(",", ":")).encode()
    json_chunk += b" " * (-len(json_chunk) % 4)
    bin_chunk = positions + b"\0" * (-len(positions) % 4)
    body = (
        struct.pack("<I", len(json_chunk))
        + b"JSON"
        + json_chunk
        + struct.pack("<I", len(bin_chunk))
        + b"BIN\0"
        + bin_chunk
    )
    return b"glTF" + struct.pack("<II", 2, 12 + len(body)) + body


def png(width: int = 2, height: int = 2, rgb: tuple[int, int, int] = (200, 30, 60)) -> bytes:
    """A valid PNG of one colour."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", binascii.crc32(kind + data) & 0xFFFFFFFF)

    row = b"\0" + bytes(rgb) * width
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0))
        + chunk(b"IDAT", zlib.compress(row * height))
        + chunk(b"IEND", b"")
    )


def _sniff(data: bytes) -> str | None:
    if data.startswith(b"\x89PNG\r\n\x1a\n"):
        return "png"
    if data.startswith(b"\xff\xd8\xff"):
        return "jpg"
    if len(data) >= 12 and data[:4] == b"RIFF" and data[8:12] == b"WEBP":
        return "webp"
    return None


# --- a small threaded HTTP server ------------------------------------------------------------------------
@dataclass
class _Base:
    api_key: str
    url: str = ""
    port: int = 0
    files: dict[str, tuple[str, bytes]] = field(default_factory=dict)  # path -> (content type, body)
    faults: dict[str, list[tuple[int, str | None, str | None]]] = field(default_factory=dict)
    requests: list[dict[str, Any]] = field(default_factory=list)
    script: list[str] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def host_file(self, path: str, content: bytes, content_type: str) -> str:
        self.files[path] = (content_type, content)
        return f"{self.url}{path}"

    def _auth(self, headers: dict[str, str]) -> bool:
        return headers.get("Authorization") == f"Bearer {self.api_key}"

    def _fault(self, op: str) -> tuple[int, str | None, str | None] | None:
        queue = self.faults.get(op)
        return queue.pop(0) if queue else None

    def _serve_file(self, path: str) -> Answer:
        self.requests.append({"op": "file", "path": path})
        fault = self._fault("file")
        if fault is not None:
            return fault[0], {}, b"fault"
        if path not in self.files:
            return 404, {"Content-Type": "text/plain"}, b"not found"
        content_type, body = self.files[path]
        return 200, {"Content-Type": content_type}, body

    def handle(self, method: str, path: str, headers: dict[str, str], body: bytes) -> Answer:
        raise NotImplementedError


def _json(status: int, payload: Any, extra: dict[str, str] | None = None) -> Answer:
    return status, {"Content-Type": "application/json", **(extra or {})}, json.dumps(payload).encode()


@contextmanager
def _serve(server: _Base) -> Iterator[None]:
    class Handler(BaseHTTPRequestHandler):
        def _serve(self) -> None:
            length = int(self.headers.get("Content-Length", "0"))
            body = self.rfile.read(length) if length else b""
            status, extra, raw = server.handle(
                self.command, self.path.split("?", 1)[0], dict(self.headers.items()), body
            )
            self.send_response(status)
            for key, value in extra.items():
                self.send_header(key, value)
            self.send_header("Content-Length", str(len(raw)))
            self.end_headers()
            self.wfile.write(raw)

        do_GET = do_POST = _serve  # noqa: N815 - http.server API

        def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - http.server API
            return

    httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    httpd.daemon_threads = True
    server.port = httpd.server_address[1]
    server.url = f"http://127.0.0.1:{server.port}"
    thread = threading.Thread(target=httpd.serve_forever, name="media-test-server", daemon=True)
    thread.start()
    try:
        yield
    finally:
        httpd.shutdown()
        httpd.server_close()


def _step(script: list[str], polls: int) -> tuple[str, int | None]:
    entry = script[min(polls, len(script) - 1)]
    status, _, progress = entry.partition(":")
    return status, int(progress) if progress else None


# --- Tripo ---------------------------------------------------------------------------------------------
_TRIPO_ERRORS = {
    401: (1002, "Authentication failed.", "Check your API key."),
    403: (2010, "You don't have enough credit to create this task.", "Top up your credit."),
    404: (2001, "Task not found.", "Check the task id."),
    400: (2002, "Invalid parameter.", "Check the request body."),
    429: (2000, "You have exceeded the rate limit.", "Slow down."),
    500: (1000, "Internal server error.", "Try again later."),
    503: (1000, "Service unavailable.", "Try again later."),
}
_TRIPO_OPTIONS = {"model_version", "negative_prompt", "texture", "pbr", "texture_quality", "face_limit"}
_TASK_PATH = re.compile(r"^/v2/openapi/task/([\w-]+)$")


@dataclass
class TripoServer(_Base):
    tasks: dict[str, dict[str, Any]] = field(default_factory=dict)
    uploads: dict[str, bytes] = field(default_factory=dict)
    model_file: tuple[str, bytes] | None = None  # (content type, body) instead of a real .glb
    on_create: Callable[[], None] | None = None  # runs while a valid task creation waits for its answer

    def _error(self, status: int, retry_after: str | None = None, message: str | None = None) -> Answer:
        code, default, suggestion = _TRIPO_ERRORS[status]
        extra = {"Retry-After": retry_after} if retry_after else {}
        return _json(status, {"code": code, "message": message or default, "suggestion": suggestion}, extra)

    def handle(self, method: str, path: str, headers: dict[str, str], body: bytes) -> Answer:
        with self.lock:
            if path.startswith("/files/"):
                return self._serve_file(path)
            op = {
                ("POST", "/v2/openapi/upload"): "upload",
                ("POST", "/v2/openapi/task"): "create",
            }.get((method, path)) or ("status" if method == "GET" and _TASK_PATH.match(path) else "")
            auth = self._auth(headers)
            record: dict[str, Any] = {"op": op or path, "method": method, "auth": auth}
            self.requests.append(record)
            if not op:
                return self._error(404, message="No such route.")
            fault = self._fault(op)
            if fault is not None:
                return self._error(fault[0], fault[1])
            if not auth:
                return self._error(401)
            if op == "upload":
                return self._upload(headers, body, record)
            if op == "create":
                return self._create(body, record)
            match = _TASK_PATH.match(path)
            assert match is not None
            return self._status(match.group(1))

    def _upload(self, headers: dict[str, str], body: bytes, record: dict[str, Any]) -> Answer:
        content_type = headers.get("Content-Type", "")
        if not content_type.startswith("multipart/form-data"):
            return self._error(400, message="Upload must be multipart/form-data.")
        message = email.parser.BytesParser(policy=email.policy.HTTP).parsebytes(
            f"Content-Type: {content_type}\r\n\r\n".encode() + body
        )
        parts = [p for p in message.iter_parts() if p.get_param("name", header="content-disposition") == "file"]
        if len(parts) != 1:
            return self._error(400, message="Exactly one 'file' part is required.")
        payload = parts[0].get_payload(decode=True)
        data = payload if isinstance(payload, bytes) else b""
        record["size"] = len(data)
        if _sniff(data) is None:
            return self._error(400, message="The file is not a jpg, png or webp image.")
        token = str(uuid.uuid4())
        self.uploads[token] = data
        return _json(200, {"code": 0, "data": {"image_token": token}})

    def _create(self, body: bytes, record: dict[str, Any]) -> Answer:
        try:
            data = json.loads(body)
        except ValueError:
            return self._error(400, message="Body is not JSON.")
        record["body"] = data
        kind = data.get("type")
        own = {"text_to_model": {"prompt"}, "image_to_model": {"file"}}.get(str(kind), set())
        unknown = set(data) - {"type"} - own - _TRIPO_OPTIONS
        if unknown:
            return self._error(400, message=f"Unknown parameters: {sorted(unknown)}")
        if kind == "text_to_model":
            prompt = data.get("prompt")
            if not isinstance(prompt, str) or not prompt.strip() or len(prompt) > 1024:
                return self._error(400, message="prompt must be 1-1024 characters.")
        elif kind == "image_to_model":
            file = data.get("file")
            if (
                not isinstance(file, dict)
                or file.get("type") not in ("jpg", "png", "webp")
                or file.get("file_token") not in self.uploads
            ):
                return self._error(400, message="file must name an uploaded image by file_token.")
        else:
            return self._error(400, message=f"Unsupported task type {kind!r}.")
        if self.on_create is not None:
            self.on_create()
        task_id = str(uuid.uuid4())
        self.tasks[task_id] = {
            "type": kind,
            "polls": 0,
            "script": list(self.script or ["queued", "running:40", "success"]),
        }
        return _json(200, {"code": 0, "data": {"task_id": task_id}})

    def _status(self, task_id: str) -> Answer:
        task = self.tasks.get(task_id)
        if task is None:
            return self._error(404)
        status, progress = _step(task["script"], task["polls"])
        task["polls"] += 1
        data: dict[str, Any] = {"task_id": task_id, "type": task["type"], "status": status, "input": {}}
        data["progress"] = 100 if status == "success" else (progress or 0)
        if status == "success":
            content_type, content = self.model_file or ("model/gltf-binary", minimal_glb())
            model = self.host_file(f"/files/{task_id}/model.glb", content, content_type)
            preview = self.host_file(f"/files/{task_id}/preview.png", png(4, 4, (20, 20, 20)), "image/png")
            data["output"] = {"pbr_model": model, "rendered_image": preview}
        return _json(200, {"code": 0, "data": data})


@contextmanager
def tripo_server(api_key: str = "tsk_test_key") -> Iterator[TripoServer]:  # noqa: S107 - the local server's own key
    server = TripoServer(api_key=api_key)
    with _serve(server):
        yield server


# --- FASHN ---------------------------------------------------------------------------------------------
_FASHN_ERRORS = {
    400: ("BadRequest", "Invalid request format."),
    401: ("UnauthorizedAccess", "Unauthorized: Invalid token"),
    404: ("NotFound", "Resource not found."),
    429: ("RateLimitExceeded", "Too many requests."),
    500: ("InternalServerError", "Internal server error."),
}
_STATUS_PATH = re.compile(r"^/v1/status/([\w-]+)$")
_CATEGORIES = ("auto", "tops", "bottoms", "one-pieces")


@dataclass
class FashnServer(_Base):
    runs: dict[str, dict[str, Any]] = field(default_factory=dict)
    failure: tuple[str, str] = ("ImageLoadError", "Could not load the garment image.")

    def _error(self, status: int, retry_after: str | None = None, name: str | None = None, message: str = "") -> Answer:
        default_name, default_message = _FASHN_ERRORS[status]
        extra = {"Retry-After": retry_after} if retry_after else {}
        return _json(status, {"error": name or default_name, "message": message or default_message}, extra)

    def handle(self, method: str, path: str, headers: dict[str, str], body: bytes) -> Answer:
        with self.lock:
            if path.startswith("/files/"):
                return self._serve_file(path)
            op = "create" if (method, path) == ("POST", "/v1/run") else ""
            op = op or ("status" if method == "GET" and _STATUS_PATH.match(path) else "")
            auth = self._auth(headers)
            record: dict[str, Any] = {"op": op or path, "method": method, "auth": auth}
            self.requests.append(record)
            if not op:
                return self._error(404)
            fault = self._fault(op)
            if fault is not None:
                return self._error(fault[0], fault[1], fault[2])
            if not auth:
                return self._error(401)
            if op == "create":
                return self._run(body, record)
            match = _STATUS_PATH.match(path)
            assert match is not None
            return self._status(match.group(1))

    def _image_ok(self, value: Any) -> bool:
        if not isinstance(value, str):
            return False
        if value.startswith(("https://", "http://")):
            return True
        match = re.match(r"^data:image/(png|jpeg|webp);base64,(.+)$", value, re.S)
        if not match:
            return False
        try:
            return _sniff(base64.b64decode(match.group(2), validate=True)) is not None
        except (binascii.Error, ValueError):
            return False

    def _run(self, body: bytes, record: dict[str, Any]) -> Answer:
        try:
            data = json.loads(body)
        except ValueError:
            return self._error(400)
        inputs = data.get("inputs") if isinstance(data, dict) else None
        record["body"] = {
            "model_name": data.get("model_name") if isinstance(data, dict) else None,
            "inputs": {k: (v[:40] if isinstance(v, str) else v) for k, v in (inputs or {}).items()},
        }
        if data.get("model_name") not in ("tryon-v1.6", "tryon-v1.5") or not isinstance(inputs, dict):
            return self._error(400, message="model_name must be tryon-v1.6 or tryon-v1.5 with an inputs object.")
        if not self._image_ok(inputs.get("model_image")) or not self._image_ok(inputs.get("garment_image")):
            return self._error(400, message="model_image and garment_image must be URLs or base64 images.")
        if inputs.get("category", "auto") not in _CATEGORIES:
            return self._error(400, message="category must be auto, tops, bottoms or one-pieces.")
        run_id = f"{uuid.uuid4()}-u1"
        self.runs[run_id] = {
            "polls": 0,
            "script": list(self.script or ["starting", "in_queue", "processing", "completed"]),
        }
        return _json(200, {"id": run_id, "error": None})

    def _status(self, run_id: str) -> Answer:
        run = self.runs.get(run_id)
        if run is None:
            return self._error(404)
        status, _ = _step(run["script"], run["polls"])
        run["polls"] += 1
        answer: dict[str, Any] = {"id": run_id, "status": status, "output": None, "error": None}
        if status == "completed":
            answer["output"] = [self.host_file(f"/files/{run_id}/0.png", png(3, 5, (10, 120, 200)), "image/png")]
        elif status == "failed":
            answer["error"] = {"name": self.failure[0], "message": self.failure[1]}
        return _json(200, answer)


@contextmanager
def fashn_server(api_key: str = "fa-test-key") -> Iterator[FashnServer]:  # noqa: S107 - the local server's own key
    server = FashnServer(api_key=api_key)
    with _serve(server):
        yield server


@dataclass
class ImageHost(_Base):
    """Serves caller images (``host_file``) on loopback; everything else is 404."""

    def handle(self, method: str, path: str, headers: dict[str, str], body: bytes) -> Answer:
        with self.lock:
            return self._serve_file(path)


@contextmanager
def image_host() -> Iterator[ImageHost]:
    server = ImageHost(api_key="")
    with _serve(server):
        yield server
