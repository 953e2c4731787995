"""A live-feed WebSocket client for fault tests: reads on its own thread, remembers
every message and the last ``seq``, notices a drop, and can reconnect and resume.

It speaks the protocol the dashboard speaks (agents_app/consumers.py): a JWT offered
as the ``bearer`` subprotocol, ``connected`` first, then events with ``seq``; after
a drop, a new socket and ``{"type": "resume", "after": <last seq>}``.
"""

from __future__ import annotations

import contextlib
import json
import threading
import time
from collections.abc import Callable
from typing import Any

from websockets.exceptions import ConnectionClosed
from websockets.sync.client import ClientConnection, connect
from websockets.typing import Subprotocol

Message = dict[str, Any]


class FeedClient:
    def __init__(self, base_url: str, channel: str, token: str) -> None:
        self.url = base_url.replace("http://", "ws://") + f"/ws/{channel}"
        self.token = token
        self.messages: list[Message] = []
        self.last_seq = 0
        self.drops: list[int | None] = []  # close code of every drop seen (None: no close frame)
        self.reconnects = 0
        self._cond = threading.Condition()
        self._ws: ClientConnection | None = None
        self._stack: contextlib.ExitStack | None = None
        self._closed = threading.Event()

    # --- connection -----------------------------------------------------------------
    def connect(self, *, resume: bool = False, timeout: float = 15) -> Message:
        """Open a socket; return its ``connected`` message. With ``resume``, ask for every
        event after the last ``seq`` seen and wait for ``resumed``."""
        stack = contextlib.ExitStack()
        ws = stack.enter_context(
            connect(
                self.url,
                subprotocols=[Subprotocol("bearer"), Subprotocol(self.token)],
                open_timeout=timeout,
                close_timeout=2,
            )
        )
        try:
            first: Message = json.loads(ws.recv(timeout=timeout))
        except BaseException:
            stack.close()
            raise
        assert first["type"] == "connected", first
        self._ws, self._stack = ws, stack
        self._closed.clear()
        threading.Thread(target=self._read, args=(ws,), name="feed-client", daemon=True).start()
        if resume:
            marker = len(self.messages)
            ws.send(json.dumps({"type": "resume", "after": self.last_seq}))
            self.wait_for(lambda m: m["type"] == "resumed", timeout=timeout, start=marker)
        return first

    def reconnect(self, *, timeout: float = 15, attempts_for: float = 15) -> Message:
        """A new socket resumed from the last ``seq``, retrying for ``attempts_for`` seconds."""
        deadline = time.monotonic() + attempts_for
        while True:
            try:
                connected = self.connect(resume=True, timeout=timeout)
            except (OSError, ConnectionClosed, TimeoutError):
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.2)
                continue
            self.reconnects += 1
            return connected

    @property
    def dropped(self) -> bool:
        return self._closed.is_set()

    def send(self, message: Message) -> None:
        assert self._ws is not None
        self._ws.send(json.dumps(message))

    def close(self) -> None:
        stack, self._ws, self._stack = self._stack, None, None  # closing on purpose is not a drop
        if stack is not None:
            with contextlib.suppress(Exception):
                stack.close()

    def _read(self, ws: ClientConnection) -> None:
        try:
            while True:
                message: Message = json.loads(ws.recv())
                with self._cond:
                    self.messages.append(message)
                    seq = message.get("seq")
                    if isinstance(seq, int) and message["type"] not in ("connected", "resumed"):
                        self.last_seq = max(self.last_seq, seq)
                    self._cond.notify_all()
        except ConnectionClosed as closed:
            if ws is self._ws:
                self.drops.append(closed.rcvd.code if closed.rcvd is not None else None)
        finally:
            if ws is self._ws:
                self._closed.set()
                with self._cond:
                    self._cond.notify_all()

    # --- reading --------------------------------------------------------------------
    def wait_for(self, predicate: Callable[[Message], bool], *, timeout: float, start: int = 0) -> Message | None:
        """The first message from index ``start`` on that matches, waiting up to ``timeout``."""
        deadline = time.monotonic() + timeout
        with self._cond:
            while True:
                for message in self.messages[start:]:
                    if predicate(message):
                        return message
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    return None
                self._cond.wait(timeout=min(remaining, 0.2))

    def mark(self) -> int:
        """The index the next message will have (for ``wait_for(start=...)``)."""
        with self._cond:
            return len(self.messages)
