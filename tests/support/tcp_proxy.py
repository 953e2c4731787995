"""A loopback TCP proxy a test can cut and restore: a dependency that goes away.

``TcpProxy(upstream_port)`` listens on its own loopback port and copies bytes both
ways between each client and ``127.0.0.1:upstream_port``. ``cut()`` makes the
dependency unavailable the way a crashed or restarting server does: every open
connection is closed (the client's next read or write fails) and the listening
socket is closed, so new connections are refused at once. ``restore()`` listens on
the same port again. Point a server's DATABASE_URL (or any other TCP URL) at
``proxy.port`` instead of the real one.

``lose_answer_to(marker)`` loses one answer instead: the next request that contains
``marker`` reaches the server, which acts on it (and commits); the connection is then
closed before the answer reaches the client, as when the network or the server's
process fails at that moment.
"""

from __future__ import annotations

import contextlib
import selectors
import socket
import threading
from collections.abc import Iterator
from contextlib import contextmanager

_CHUNK = 64 * 1024


class TcpProxy:
    def __init__(self, upstream_port: int, upstream_host: str = "127.0.0.1") -> None:
        self.upstream = (upstream_host, upstream_port)
        self.port = 0
        self._listener: socket.socket | None = None
        self._pairs: set[tuple[socket.socket, socket.socket]] = set()
        self._lock = threading.Lock()
        self._accepting = threading.Event()
        self._stopped = threading.Event()
        self.accepted = 0  # connections accepted over the proxy's life (tests read it)
        self._lose_answer_to: bytes | None = None
        self.answers_lost = 0

    # --- control --------------------------------------------------------------------
    def start(self) -> None:
        self._listen()
        threading.Thread(target=self._accept_loop, name="tcp-proxy-accept", daemon=True).start()

    def cut(self) -> None:
        """Close every open connection and refuse new ones until ``restore()``."""
        self._accepting.clear()
        with self._lock:
            listener, self._listener = self._listener, None
            pairs, self._pairs = self._pairs, set()
        if listener is not None:
            listener.close()
        for client, upstream in pairs:
            _close(client)
            _close(upstream)

    def restore(self) -> None:
        self._listen()

    def lose_answer_to(self, marker: bytes) -> None:
        """Once: forward the next request containing ``marker``, then close that
        connection instead of passing on the server's answer."""
        with self._lock:
            self._lose_answer_to = marker

    def stop(self) -> None:
        self._stopped.set()
        self.cut()

    @property
    def open_connections(self) -> int:
        with self._lock:
            return len(self._pairs)

    # --- internals ------------------------------------------------------------------
    def _listen(self) -> None:
        listener = socket.socket()
        listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        listener.bind(("127.0.0.1", self.port))
        listener.listen(128)
        listener.settimeout(0.05)
        self.port = int(listener.getsockname()[1])
        with self._lock:
            self._listener = listener
        self._accepting.set()

    def _accept_loop(self) -> None:
        while not self._stopped.is_set():
            if not self._accepting.wait(timeout=0.05):
                continue
            with self._lock:
                listener = self._listener
            if listener is None:
                continue
            try:
                client, _ = listener.accept()
            except (TimeoutError, OSError):
                continue
            try:
                upstream = socket.create_connection(self.upstream, timeout=5)
            except OSError:
                _close(client)
                continue
            client.settimeout(None)
            upstream.settimeout(None)
            with self._lock:
                if self._listener is not listener:  # cut meanwhile
                    _close(client)
                    _close(upstream)
                    continue
                self._pairs.add((client, upstream))
                self.accepted += 1
            threading.Thread(target=self._pump, args=(client, upstream), name="tcp-proxy-pump", daemon=True).start()

    def _pump(self, client: socket.socket, upstream: socket.socket) -> None:
        peer = {client: upstream, upstream: client}
        answer_to_lose = False
        with selectors.DefaultSelector() as selector:
            selector.register(client, selectors.EVENT_READ)
            selector.register(upstream, selectors.EVENT_READ)
            try:
                while True:
                    for key, _ in selector.select(timeout=0.5):
                        source: socket.socket = key.fileobj  # type: ignore[assignment]
                        data = source.recv(_CHUNK)
                        if not data:
                            return
                        if source is upstream and answer_to_lose:
                            with self._lock:
                                self.answers_lost += 1
                            return  # the server has acted; its answer goes nowhere
                        if source is client:
                            answer_to_lose = answer_to_lose or self._arms(data)
                        peer[source].sendall(data)
                    if client.fileno() < 0 or upstream.fileno() < 0:
                        return
            except (OSError, ValueError):
                return
            finally:
                with self._lock:
                    self._pairs.discard((client, upstream))
                _close(client)
                _close(upstream)

    def _arms(self, request: bytes) -> bool:
        with self._lock:
            if self._lose_answer_to is None or self._lose_answer_to not in request:
                return False
            self._lose_answer_to = None
            return True


def _close(sock: socket.socket) -> None:
    with contextlib.suppress(OSError):
        sock.shutdown(socket.SHUT_RDWR)
    with contextlib.suppress(OSError):
        sock.close()


@contextmanager
def tcp_proxy(upstream_port: int, upstream_host: str = "127.0.0.1") -> Iterator[TcpProxy]:
    proxy = TcpProxy(upstream_port, upstream_host)
    proxy.start()
    try:
        yield proxy
    finally:
        proxy.stop()
