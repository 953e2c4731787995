"""Logs carry request ids, Redis failures log once per interval, Sentry gets no secrets."""

from __future__ import annotations

import gzip
import json
import logging
import subprocess
import sys
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import httpx
import pytest

from devskyy.core.cache import RedisCache
from tests.support.servers import ROOT, base_env, closed_port, gunicorn, poll, stop

PRODUCTION_SECRETS = {
    "ENVIRONMENT": "production",
    "SECRET_KEY": "obs-test-secret-key-" + "s" * 40,
    "JWT_SECRET_KEY": "obs-test-jwt-key-" + "j" * 40,
    "ENCRYPTION_MASTER_KEY": "obs-test-master-key-" + "m" * 40,
    "ALLOWED_HOSTS": "127.0.0.1,localhost",
}


@pytest.mark.services
@pytest.mark.django_db(transaction=True)
def test_production_logs_are_json_with_the_request_id(server_env: dict[str, str]) -> None:
    env = {**server_env, **PRODUCTION_SECRETS, "LOG_LEVEL": "info"}
    with gunicorn(env, workers=1) as server:
        response = httpx.get(
            server.url + "/api/v1/nope",
            headers={"X-Request-ID": "trace-abc-123", "X-Forwarded-Proto": "https"},
            timeout=10,
        )
        assert response.status_code == 404
        assert response.headers["X-Request-ID"] == "trace-abc-123"
        plain = httpx.get(server.url + "/live", timeout=10)  # http without the proxy header
        assert plain.status_code == 200  # probes are exempt from the https redirect
        # The web server writes INFO lines in batches every 0.25 s (LOG_FLUSH_SECONDS).
        assert poll(lambda: "trace-abc-123" in server.log(), timeout=5), server.log()[-3000:]
        log = server.log()
    records = [json.loads(line) for line in log.splitlines() if line.startswith("{")]
    mine = [r for r in records if r.get("request_id") == "trace-abc-123"]
    assert mine, log[-3000:]
    assert any(r["message"] == "GET /api/v1/nope 404" or r["message"].startswith("GET /api/v1/nope 404") for r in mine)
    assert all(r["level"] in {"INFO", "WARNING", "ERROR", "CRITICAL"} for r in records)
    request_lines = [r for r in records if r.get("logger") == "devskyy.request"]
    assert request_lines
    assert all(len(r["request_id"]) > 1 for r in request_lines)


@pytest.mark.services
@pytest.mark.django_db(transaction=True)
def test_request_lines_still_waiting_are_written_when_the_web_server_is_stopped(server_env: dict[str, str]) -> None:
    """The web workers write INFO lines in batches (LOG_FLUSH_SECONDS); a worker ended by
    SIGTERM (every deploy) writes the lines it holds before it goes (devskyy/serving.py)."""
    env = {**server_env, **PRODUCTION_SECRETS, "LOG_LEVEL": "info", "LOG_FLUSH_SECONDS": "5"}
    with gunicorn(env, workers=1) as server:
        for n in range(3):
            response = httpx.get(server.url + f"/api/v1/nope-{n}", headers={"X-Forwarded-Proto": "https"}, timeout=10)
            assert response.status_code == 404
        assert "/api/v1/nope-" not in server.log()  # held in memory: the batch is 5 s
        stop(server.process)
        log = server.log()
    for n in range(3):
        assert f"GET /api/v1/nope-{n} 404" in log, log[-3000:]


@pytest.mark.services
def test_a_dead_redis_is_logged_once_per_interval_and_reads_become_misses(
    caplog: pytest.LogCaptureFixture, settings
) -> None:
    settings.REDIS_BREAKER_SECONDS = 30
    location = f"redis://127.0.0.1:{closed_port()}/0"
    cache = RedisCache(location, {"OPTIONS": {"SOCKET_CONNECT_TIMEOUT": 0.2, "SOCKET_TIMEOUT": 0.2}})
    caplog.set_level(logging.WARNING, logger="devskyy.core.cache")
    for _ in range(200):
        assert cache.get("k", "fallback") == "fallback"
        cache.set("k", "v")
    assert cache.breaker.is_open
    warnings = [r for r in caplog.records if "unavailable" in r.getMessage()]
    assert len(warnings) == 1


class _SentrySink(BaseHTTPRequestHandler):
    received: list[bytes] = []

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
        if self.headers.get("Content-Encoding") == "gzip":
            body = gzip.decompress(body)
        type(self).received.append(body)
        self.send_response(200)
        self.end_headers()
        self.wfile.write(b"{}")

    def log_message(self, *args: object) -> None:
        return


def test_sentry_receives_500s_without_credentials_or_cookies(tmp_path) -> None:
    sink = ThreadingHTTPServer(("127.0.0.1", 0), _SentrySink)
    _SentrySink.received = []
    thread = threading.Thread(target=sink.serve_forever, daemon=True)
    thread.start()
    script = """
import django, sentry_sdk
django.setup()
from django.core.management import call_command
from django.test import Client, override_settings
call_command("migrate", verbosity=0)  # its own database: the session cookie is looked up
with override_settings(ROOT_URLCONF="tests.devskyy.boom_urls"):
    response = Client(raise_request_exception=False).get(
        "/api/v1/boom", HTTP_AUTHORIZATION="Bearer sekrit-token-value", HTTP_COOKIE="sessionid=cookie-value-123",
        HTTP_X_API_KEY="api-key-value-456",
    )
assert response.status_code == 500, response.status_code
sentry_sdk.flush(timeout=5)
"""
    try:
        env = base_env(
            {
                "SENTRY_DSN": f"http://publickey@127.0.0.1:{sink.server_address[1]}/1",
                "DJANGO_SETTINGS_MODULE": "devskyy.settings",
                # Not the checkout's var/ database, which may not exist or be migrated.
                "DATABASE_URL": f"sqlite:///{tmp_path / 'sentry.sqlite3'}",
            }
        )
        result = subprocess.run(
            [sys.executable, "-c", script], cwd=ROOT, env=env, capture_output=True, text=True, timeout=60, check=False
        )
        assert result.returncode == 0, result.stderr[-2000:]
    finally:
        sink.shutdown()
    payload = b"".join(_SentrySink.received)
    assert b"secret-internal-detail" in payload  # the error itself is reported
    for secret in (b"sekrit-token-value", b"cookie-value-123", b"api-key-value-456"):
        assert secret not in payload


@pytest.mark.services
def test_the_cache_breaker_closes_by_itself_when_redis_returns(settings) -> None:
    from tests.support.servers import poll, redis_server

    settings.REDIS_BREAKER_SECONDS = 0.2
    with redis_server() as redis:
        cache = RedisCache(redis.url, {"OPTIONS": {"SOCKET_CONNECT_TIMEOUT": 0.2, "SOCKET_TIMEOUT": 0.2}})
        cache.set("k", "v")
        assert cache.get("k") == "v"
        redis.stop()
        assert cache.get("k", "miss") == "miss"
        assert cache.breaker.is_open
        assert cache.get("k", "miss") == "miss"  # skipped, not attempted
        redis.start()
        assert poll(lambda: not cache.breaker.is_open, timeout=10)
        cache.set("k", "again")
        assert cache.get("k") == "again"


@pytest.mark.django_db
def test_a_successful_probe_writes_no_request_line_but_a_failing_one_does(
    caplog: pytest.LogCaptureFixture, settings
) -> None:
    """Probes are polled every few seconds: a 200 is logged at DEBUG; API requests and
    probe failures keep their INFO/WARNING line (devskyy/core/middleware.py)."""
    from django.test import Client

    caplog.set_level(logging.INFO, logger="devskyy.request")
    client = Client()
    assert client.get("/live").status_code == 200
    assert client.get("/ready").status_code == 200
    assert client.delete("/live").status_code == 405
    assert client.get("/api/v1/agents").status_code == 401
    lines = [r.getMessage() for r in caplog.records if r.name == "devskyy.request"]
    assert not any(line.startswith(("GET /live", "GET /ready")) for line in lines), lines
    assert any(line.startswith("DELETE /live 405") for line in lines), lines
    assert any(line.startswith("GET /api/v1/agents 401") for line in lines), lines
