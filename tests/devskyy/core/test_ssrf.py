"""SSRF guard: addresses refused after resolution, redirects re-checked, limits enforced.

Only loopback servers started here are ever contacted (through the explicit
test-only allow-list); public addresses are validated, never requested.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest

from devskyy.core.models import AuditLog
from devskyy.core.ssrf import OutboundFetchError, SSRFBlockedError, safe_fetch, vet_url
from tests.support.auth import security_events

pytestmark = pytest.mark.django_db

REFUSED = [
    "http://127.0.0.1/",
    "http://10.0.0.1/",
    "http://169.254.169.254/latest/meta-data/",
    "http://[::1]/",
    "http://[::ffff:127.0.0.1]/",
    "http://[::ffff:169.254.169.254]/",
    "http://[fd00:ec2::254]/",
    "http://[2002:7f00:1::]/",  # 6to4 wrapping 127.0.0.1
    "http://[64:ff9b::a00:1]/",  # NAT64 wrapping 10.0.0.1
    "http://0.0.0.0/",
    "http://100.64.0.1/",
    "http://192.168.1.1:8080/",
    "http://172.16.0.1/",
    "http://224.0.0.1/",
    "http://[fe80::1]/",
    "http://2130706433/",  # 127.0.0.1 as one decimal number
    "http://localhost:8000/",  # a name that resolves to loopback
]


@pytest.mark.parametrize("url", REFUSED)
def test_non_public_addresses_are_refused_after_resolution_and_counted(url: str) -> None:
    before = security_events("ssrf_blocked")
    with pytest.raises(SSRFBlockedError) as refused:
        safe_fetch(url)
    assert refused.value.status_code == 400
    assert security_events("ssrf_blocked") == before + 1
    row = AuditLog.objects.get(action="ssrf.blocked")
    assert row.details["reason"] == refused.value.details["reason"]
    assert "meta-data" not in str(row.details)  # host and reason only, never the path


@pytest.mark.parametrize(
    "url", ["file:///etc/passwd", "ftp://example.com/", "gopher://x/", "http://user:pw@example.com/", "http:///x"]
)
def test_other_schemes_credentials_and_hostless_urls_are_refused(url: str) -> None:
    with pytest.raises(SSRFBlockedError):
        vet_url(url)


def test_a_public_literal_address_is_allowed_and_pinned_without_any_request() -> None:
    target = vet_url("https://93.184.215.14:8443/a/b?q=1")
    assert target.ip == "93.184.215.14"
    assert target.pinned_url == "https://93.184.215.14:8443/a/b?q=1"
    assert target.host_header == "93.184.215.14:8443"
    plain = vet_url("http://93.184.215.14/")
    assert plain.host_header == "93.184.215.14"


class _Handler(BaseHTTPRequestHandler):
    routes: dict[str, tuple[int, dict[str, str], bytes, float]] = {}
    seen: list[dict[str, str]] = []

    def do_GET(self) -> None:  # noqa: N802 - http.server's naming
        self.seen.append({"path": self.path, **{k.lower(): v for k, v in self.headers.items()}})
        status, headers, body, delay = self.routes.get(self.path, (404, {}, b"missing", 0.0))
        if delay:
            time.sleep(delay)
        self.send_response(status)
        for name, value in headers.items():
            self.send_header(name, value)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: Any) -> None:
        return


@contextmanager
def local_server(routes: dict[str, Any]) -> Iterator[tuple[int, list]]:
    handler: Any = type("Handler", (_Handler,), {"routes": routes, "seen": []})
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield server.server_address[1], handler.seen
    finally:
        server.shutdown()
        server.server_close()


def test_fetch_follows_allowed_redirects_and_sends_the_original_host() -> None:
    with local_server({"/a": (302, {"Location": "/b"}, b"", 0), "/b": (200, {}, b"hello", 0)}) as (port, seen):
        result = safe_fetch(f"http://127.0.0.1:{port}/a", unsafe_allowed_addresses=[("127.0.0.1", port)])
    assert result.status_code == 200
    assert result.content == b"hello"
    assert result.url == f"http://127.0.0.1:{port}/b"
    assert [r["path"] for r in seen] == ["/a", "/b"]
    assert seen[0]["host"] == f"127.0.0.1:{port}"


def test_a_redirect_to_another_loopback_port_is_refused_and_never_requested() -> None:
    with local_server({"/": (200, {}, b"internal admin", 0)}) as (inner_port, inner_seen):
        redirect = {"/go": (302, {"Location": f"http://127.0.0.1:{inner_port}/"}, b"", 0)}
        with local_server(redirect) as (port, seen):
            before = security_events("ssrf_blocked")
            with pytest.raises(SSRFBlockedError, match="loopback"):
                safe_fetch(f"http://127.0.0.1:{port}/go", unsafe_allowed_addresses=[("127.0.0.1", port)])
            assert security_events("ssrf_blocked") == before + 1
        assert [r["path"] for r in seen] == ["/go"]
        assert inner_seen == []


def test_a_redirect_to_the_metadata_address_is_refused() -> None:
    redirect = {"/go": (301, {"Location": "http://169.254.169.254/latest/meta-data/iam"}, b"", 0)}
    with local_server(redirect) as (port, _), pytest.raises(SSRFBlockedError, match="metadata"):
        safe_fetch(f"http://127.0.0.1:{port}/go", unsafe_allowed_addresses=[("127.0.0.1", port)])


def test_credentials_are_not_carried_to_another_origin() -> None:
    with local_server({"/": (200, {}, b"ok", 0)}) as (other_port, other_seen):
        redirect = {"/go": (307, {"Location": f"http://127.0.0.1:{other_port}/"}, b"", 0)}
        with local_server(redirect) as (port, seen):
            safe_fetch(
                f"http://127.0.0.1:{port}/go",
                headers={"Authorization": "Bearer caller-token"},
                unsafe_allowed_addresses=[("127.0.0.1", port), ("127.0.0.1", other_port)],
            )
    assert seen[0]["authorization"] == "Bearer caller-token"
    assert "authorization" not in other_seen[0]


def test_redirect_loops_size_and_time_are_bounded() -> None:
    routes = {
        "/loop": (302, {"Location": "/loop"}, b"", 0),
        "/big": (200, {}, b"x" * 5000, 0),
        "/slow": (200, {}, b"late", 1.5),
    }
    with local_server(routes) as (port, _):
        allow = [("127.0.0.1", port)]
        with pytest.raises(OutboundFetchError) as loop:
            safe_fetch(f"http://127.0.0.1:{port}/loop", max_redirects=3, unsafe_allowed_addresses=allow)
        assert loop.value.code == "too_many_redirects"
        with pytest.raises(OutboundFetchError) as big:
            safe_fetch(f"http://127.0.0.1:{port}/big", max_bytes=1000, unsafe_allowed_addresses=allow)
        assert big.value.code == "response_too_large"
        assert big.value.transient is False
        started = time.monotonic()
        with pytest.raises(OutboundFetchError) as slow:
            safe_fetch(f"http://127.0.0.1:{port}/slow", timeout=0.5, unsafe_allowed_addresses=allow)
        assert slow.value.code == "fetch_timeout"
        assert time.monotonic() - started < 1.4
