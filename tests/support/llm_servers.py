"""Scriptable LLM provider servers on loopback, speaking the providers' wire formats.

The gateway is tested through the real ``openai`` and ``anthropic`` SDKs pointed at
these servers, so request building, response parsing and error classes are the SDKs'
own. Each server plays one provider:

* ``kind="openai"``: ``POST <any prefix>/chat/completions`` (OpenAI, and the same path
  under Groq's ``/openai/v1``, Gemini's ``/v1beta/openai``, Cohere's
  ``/compatibility/v1``...) answering ``chat.completion`` objects with ``usage``,
  ``tool_calls`` and ``finish_reason``; errors as ``{"error": {"message", "type", "code"}}``.
* ``kind="anthropic"``: ``POST /v1/messages`` answering ``message`` objects with
  ``content`` blocks (``text``, ``tool_use``), ``stop_reason`` and
  ``usage.input_tokens/output_tokens``; errors as ``{"type": "error", "error": {...}}``.

A test queues replies (``server.queue(...)``) or sets a ``responder`` that builds one
from the request; every request is recorded (``server.requests``). An empty queue
with no responder answers 500 so a test that under-scripts fails loudly.
"""

from __future__ import annotations

import itertools
import json
import threading
import time
from collections import deque
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

_ids = itertools.count(1)


@dataclass
class Reply:
    """One scripted answer: a status and JSON body, optionally after a delay."""

    status: int = 200
    body: dict[str, Any] = field(default_factory=dict)
    delay: float = 0.0
    headers: dict[str, str] = field(default_factory=dict)


@dataclass
class RecordedRequest:
    method: str
    path: str
    headers: dict[str, str]
    json: dict[str, Any]


Responder = Callable[[RecordedRequest], Reply]

# ---------------------------------------------------------------------------------
# OpenAI wire format
# ---------------------------------------------------------------------------------


def openai_text(
    text: str, *, prompt_tokens: int = 11, completion_tokens: int = 7, model: str | None = None, finish: str = "stop"
) -> Reply:
    return Reply(
        body={
            "id": f"chatcmpl-{next(_ids)}",
            "object": "chat.completion",
            "created": int(time.time()),
            "model": model or "",
            "choices": [
                {
                    "index": 0,
                    "message": {"role": "assistant", "content": text, "refusal": None},
                    "logprobs": None,
                    "finish_reason": finish,
                }
            ],
            "usage": {
                "prompt_tokens": prompt_tokens,
                "completion_tokens": completion_tokens,
                "total_tokens": prompt_tokens + completion_tokens,
            },
        }
    )


def openai_tool_calls(
    calls: list[tuple[str, dict[str, Any]]], *, prompt_tokens: int = 20, completion_tokens: int = 9
) -> Reply:
    reply = openai_text("", prompt_tokens=prompt_tokens, completion_tokens=completion_tokens, finish="tool_calls")
    message = reply.body["choices"][0]["message"]
    message["content"] = None
    message["tool_calls"] = [
        {"id": f"call_{next(_ids)}", "type": "function", "function": {"name": name, "arguments": json.dumps(args)}}
        for name, args in calls
    ]
    return reply


_OPENAI_ERROR_TYPES = {
    400: ("invalid_request_error", "invalid_value"),
    401: ("invalid_request_error", "invalid_api_key"),
    403: ("invalid_request_error", "unsupported_country_region_territory"),
    404: ("invalid_request_error", "model_not_found"),
    429: ("requests", "rate_limit_exceeded"),
    500: ("server_error", "internal_error"),
    503: ("server_error", "service_unavailable"),
}


def openai_error(status: int, message: str = "") -> Reply:
    kind, code = _OPENAI_ERROR_TYPES.get(status, ("server_error", "error"))
    return Reply(
        status=status,
        body={
            "error": {"message": message or f"fake upstream error {status}", "type": kind, "param": None, "code": code}
        },
    )


# ---------------------------------------------------------------------------------
# Anthropic wire format
# ---------------------------------------------------------------------------------


def anthropic_text(
    text: str, *, input_tokens: int = 13, output_tokens: int = 5, model: str = "", stop: str = "end_turn"
) -> Reply:
    return Reply(
        body={
            "id": f"msg_{next(_ids)}",
            "type": "message",
            "role": "assistant",
            "model": model,
            "content": [{"type": "text", "text": text}],
            "stop_reason": stop,
            "stop_sequence": None,
            "usage": {"input_tokens": input_tokens, "output_tokens": output_tokens},
        }
    )


def anthropic_tool_use(
    calls: list[tuple[str, dict[str, Any]]], *, text: str = "", input_tokens: int = 30, output_tokens: int = 12
) -> Reply:
    reply = anthropic_text(text, input_tokens=input_tokens, output_tokens=output_tokens, stop="tool_use")
    blocks: list[dict[str, Any]] = [{"type": "text", "text": text}] if text else []
    blocks += [{"type": "tool_use", "id": f"toolu_{next(_ids)}", "name": name, "input": args} for name, args in calls]
    reply.body["content"] = blocks
    return reply


_ANTHROPIC_ERROR_TYPES = {
    400: "invalid_request_error",
    401: "authentication_error",
    403: "permission_error",
    404: "not_found_error",
    429: "rate_limit_error",
    500: "api_error",
    529: "overloaded_error",
}


def anthropic_error(status: int, message: str = "") -> Reply:
    return Reply(
        status=status,
        body={
            "type": "error",
            "error": {
                "type": _ANTHROPIC_ERROR_TYPES.get(status, "api_error"),
                "message": message or f"fake upstream error {status}",
            },
        },
    )


# ---------------------------------------------------------------------------------
# The server
# ---------------------------------------------------------------------------------


class FakeLLMServer:
    """A provider on 127.0.0.1; ``base_url`` is what the SDK client is given."""

    def __init__(self, kind: str, *, prefix: str = "/v1") -> None:
        if kind not in ("openai", "anthropic"):
            raise ValueError(kind)
        self.kind = kind
        self.prefix = prefix
        self.requests: list[RecordedRequest] = []
        self.responder: Responder | None = None
        self._script: deque[Reply] = deque()
        self._lock = threading.Lock()
        self._httpd = ThreadingHTTPServer(("127.0.0.1", 0), self._handler_class())
        self._httpd.daemon_threads = True
        self._thread = threading.Thread(target=self._httpd.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)

    @property
    def root(self) -> str:
        host, port = self._httpd.server_address[:2]
        return f"http://{host!s}:{port}"

    @property
    def base_url(self) -> str:
        # The openai SDK appends /chat/completions to a base ending in the prefix; the
        # anthropic SDK appends /v1/messages to the bare origin.
        return self.root + self.prefix if self.kind == "openai" else self.root

    @property
    def completion_path(self) -> str:
        return f"{self.prefix}/chat/completions" if self.kind == "openai" else "/v1/messages"

    def queue(self, *replies: Reply) -> FakeLLMServer:
        with self._lock:
            self._script.extend(replies)
        return self

    @property
    def request_count(self) -> int:
        with self._lock:
            return len(self.requests)

    def start(self) -> FakeLLMServer:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._httpd.shutdown()
        self._httpd.server_close()

    def _next_reply(self, request: RecordedRequest) -> Reply:
        with self._lock:
            self.requests.append(request)
            if self._script:
                return self._script.popleft()
            responder = self.responder
        if responder is not None:
            return responder(request)
        if self.kind == "openai":
            return openai_error(500, "fake server: script exhausted")
        return anthropic_error(500, "fake server: script exhausted")

    def _handler_class(self) -> type[BaseHTTPRequestHandler]:
        server = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - stdlib signature
                return

            def do_POST(self) -> None:  # noqa: N802 - stdlib naming
                length = int(self.headers.get("Content-Length") or 0)
                raw = self.rfile.read(length) if length else b""
                try:
                    payload = json.loads(raw or b"{}")
                except json.JSONDecodeError:
                    payload = {"_raw": raw.decode(errors="replace")}
                request = RecordedRequest(
                    method="POST",
                    path=self.path,
                    headers={k.lower(): v for k, v in self.headers.items()},
                    json=payload,
                )
                if self.path.split("?")[0] != server.completion_path:
                    error = openai_error(404) if server.kind == "openai" else anthropic_error(404)
                    error.body["error"]["message"] = f"no route {self.path}"
                    self._send(error)
                    return
                reply = server._next_reply(request)
                if reply.delay:
                    time.sleep(reply.delay)
                self._send(reply)

            def _send(self, reply: Reply) -> None:
                body = json.dumps(reply.body).encode()
                try:
                    self.send_response(reply.status)
                    self.send_header("Content-Type", "application/json")
                    self.send_header("Content-Length", str(len(body)))
                    for name, value in reply.headers.items():
                        self.send_header(name, value)
                    self.end_headers()
                    self.wfile.write(body)
                except (BrokenPipeError, ConnectionResetError):
                    # The client gave up (a timeout under test); nothing to answer.
                    self.close_connection = True

        return Handler


@contextmanager
def llm_server(kind: str, *, prefix: str = "/v1") -> Iterator[FakeLLMServer]:
    server = FakeLLMServer(kind, prefix=prefix).start()
    try:
        yield server
    finally:
        server.stop()
