"""Probes against real PostgreSQL and Redis, through real gunicorn and Celery processes."""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import TypeVar

import httpx
import pytest
from django.test import Client

from agents_app.models import Agent, AgentCategory
from tests.support.servers import black_hole, celery_worker, closed_port, gunicorn, poll, redis_server

T = TypeVar("T")

pytestmark = [pytest.mark.services, pytest.mark.django_db(transaction=True)]


def _health(url: str) -> httpx.Response:
    # The probe has a 0.9 s deadline of its own; 10 s here only guards against a hang.
    return httpx.get(url + "/health", timeout=10)


def test_health_reports_postgres_redis_and_the_real_agent_count() -> None:
    for i in range(3):
        Agent.objects.create(slug=f"analytics-00{i}", type="analytics", name=f"A{i}", category=AgentCategory.ANALYTICS)
    body = Client().get("/health").json()
    assert body["services"]["database"]["vendor"] == "postgresql"
    assert body["services"]["cache"]["backend"] == "redis"
    assert body["services"]["channel_layer"]["backend"] == "redis"
    assert body["agents"]["total"] == 3
    assert body["agents"]["categories"] == ["analytics"]


def test_task_queue_reports_live_celery_workers(server_env: dict[str, str]) -> None:
    from django.conf import settings
    from redis import Redis

    from devskyy.taskqueue import WORKERS_KEY

    Redis.from_url(settings.CELERY_BROKER_URL).delete(WORKERS_KEY)  # marks left by earlier runs
    client = Client()
    queue = client.get("/health").json()["services"]["task_queue"]
    assert queue["backend"] == "celery"
    assert queue["status"] == "degraded"
    assert queue["workers"] == 0
    baseline = 0
    with celery_worker(server_env):
        assert poll(lambda: client.get("/health").json()["services"]["task_queue"]["workers"] == 1, timeout=30)
        assert client.get("/health").json()["services"]["task_queue"]["status"] == "ok"
    assert poll(lambda: client.get("/health").json()["services"]["task_queue"]["workers"] == baseline, timeout=15)


def test_redis_down_degrades_health_but_every_endpoint_answers(server_env: dict[str, str]) -> None:
    from tests.support.auth import access_token, make_user

    env = {**server_env, "REDIS_URL": f"redis://127.0.0.1:{closed_port()}/0"}
    headers = {"Authorization": f"Bearer {access_token(make_user())}"}
    with gunicorn(env, workers=1) as server:
        response = _health(server.url)
        assert response.status_code == 200
        body = response.json()
        assert body["status"] == "degraded"
        assert body["services"]["cache"]["status"] == "down"
        assert "cache" in body["failing"]
        assert {"channel_layer", "task_queue"} <= set(body["failing"])
        assert body["services"]["database"]["status"] == "ok"
        for path in ("/", "/live", "/ready", "/api/schema/", "/metrics", "/metrics/cache"):
            assert httpx.get(server.url + path, timeout=10).status_code == 200, path
        # Authenticated API reads too: auth, rate limiting (fails open) and cache all degrade.
        for path in ("/api/v1/agents", "/api/v1/tasks", "/api/v1/tools", "/api/v1/auth/me"):
            response = httpx.get(server.url + path, headers=headers, timeout=10)
            assert response.status_code == 200, (path, response.text[:300])
            assert "X-RateLimit-Limit" in response.headers


def test_health_recovers_by_itself_when_redis_returns(server_env: dict[str, str]) -> None:
    with redis_server() as redis:
        env = {**server_env, "REDIS_URL": redis.url, "REDIS_BREAKER_SECONDS": "1"}
        with gunicorn(env, workers=1) as server:
            assert _health(server.url).json()["services"]["cache"]["status"] == "ok"
            redis.stop()
            assert poll(lambda: _health(server.url).json()["services"]["cache"]["status"] == "down", timeout=10)
            assert _health(server.url).json()["status"] == "degraded"
            redis.start()
            assert poll(lambda: _health(server.url).json()["services"]["cache"]["status"] == "ok", timeout=15)


def test_database_down_fails_ready_and_health_but_not_live(server_env: dict[str, str]) -> None:
    env = {**server_env, "DATABASE_URL": f"postgres://postgres@127.0.0.1:{closed_port()}/devskyy"}
    with gunicorn(env, workers=1) as server:
        ready = httpx.get(server.url + "/ready", timeout=10)
        assert ready.status_code == 503
        assert ready.json()["ready"] is False
        assert "database unavailable" in ready.json()["reason"]
        health = _health(server.url)
        assert health.status_code == 503
        assert health.json()["status"] == "unhealthy"
        assert health.json()["services"]["database"]["status"] == "down"
        assert httpx.get(server.url + "/live", timeout=10).status_code == 200


def test_metrics_count_every_request_across_two_gunicorn_workers(server_env: dict[str, str]) -> None:
    with gunicorn(server_env, workers=2) as server:
        pids: set[int] = set()

        def both_workers_seen() -> bool:
            with httpx.Client(headers={"Connection": "close"}) as fresh:
                pids.add(fresh.get(server.url + "/health", timeout=10).json()["services"]["api"]["pid"])
            return len(pids) == 2

        assert poll(both_workers_seen, timeout=30, interval=0.01), "requests never reached the second worker"

        def live_count() -> float:
            text = httpx.get(server.url + "/metrics", timeout=10).text
            match = re.search(r'^http_requests_total\{method="GET",route="/live",status="200"\} (\S+)$', text, re.M)
            return float(match.group(1)) if match else 0.0

        # Start-up probes also hit /live (and may be counted late under load): count the difference.
        before = live_count()
        requests = 60
        for _ in range(requests):
            with httpx.Client(headers={"Connection": "close"}) as fresh:
                assert fresh.get(server.url + "/live", timeout=10).status_code == 200
        assert live_count() - before == requests
        cache = httpx.get(server.url + "/metrics/cache", timeout=10).json()["redis"]
        hits = re.search(r"^redis_cache_hits_total (\S+)$", httpx.get(server.url + "/metrics", timeout=10).text, re.M)
        assert hits is not None
        assert float(hits.group(1)) == cache["total_hits"]


@pytest.mark.parametrize("mode", ["persistent", "pool"])
def test_both_database_connection_modes_serve_health(server_env: dict[str, str], mode: str) -> None:
    with gunicorn(
        {**server_env, "DB_CONNECTION_MODE": mode, "DB_POOL_SIZE": "2", "DB_MAX_OVERFLOW": "2"}, workers=1
    ) as server:
        for _ in range(5):
            body = _health(server.url).json()
            assert body["services"]["database"]["status"] == "ok", body["services"]["database"]
        assert httpx.get(server.url + "/ready", timeout=10).json() == {"ready": True}


@pytest.mark.parametrize("dependency", ["REDIS_URL", "DATABASE_URL"])
def test_health_answers_when_a_dependency_hangs(server_env: dict[str, str], dependency: str) -> None:
    with black_hole() as port:
        target = (
            f"redis://127.0.0.1:{port}/0" if dependency == "REDIS_URL" else f"postgres://postgres@127.0.0.1:{port}/x"
        )
        with gunicorn({**server_env, dependency: target}, workers=1) as server:
            for _ in range(3):
                # The probe's own deadline is 0.9 s; 5 s here only detects a hang.
                body = httpx.get(server.url + "/health", timeout=5).json()
                service = "cache" if dependency == "REDIS_URL" else "database"
                assert body["services"][service]["status"] in ("timeout", "down"), body["services"][service]
                assert body["status"] == ("degraded" if dependency == "REDIS_URL" else "unhealthy")
            assert httpx.get(server.url + "/live", timeout=5).status_code == 200


def _in_probe_thread(fn: Callable[[], T]) -> T:
    """Run ``fn`` on the thread whose connection the database probe uses."""
    from health_app import checks

    return checks._db_pool.submit(fn).result(timeout=10)


def _probe_backend_pid() -> int:
    from django.db import connections

    return int(_in_probe_thread(lambda: connections["default"].connection.info.backend_pid))


def test_health_sends_postgresql_one_statement_per_probe() -> None:
    """The agent counts are the probe's round trip and its connection check: no
    ``SELECT 1`` before them (libpq's own trace of what goes on the wire)."""
    import tempfile

    import psycopg
    from django.conf import settings
    from django.db import connections

    client = Client()
    # The probe's connection is open, and its statement run often enough to be prepared.
    for _ in range(settings.DB_PREPARE_THRESHOLD + 1):
        assert client.get("/health").json()["services"]["database"]["status"] == "ok"
    with tempfile.TemporaryFile() as wire:

        def trace() -> None:
            pgconn = connections["default"].connection.pgconn
            pgconn.trace(wire.fileno())
            pgconn.set_trace_flags(psycopg.pq.Trace.SUPPRESS_TIMESTAMPS | psycopg.pq.Trace.REGRESS_MODE)

        _in_probe_thread(trace)
        for _ in range(3):
            assert client.get("/health").json()["services"]["database"]["status"] == "ok"
        _in_probe_thread(lambda: connections["default"].connection.pgconn.untrace())
        wire.seek(0)
        sent = [line.split("\t") for line in wire.read().decode().splitlines() if line.startswith("F\t")]
    # One statement is one Query (simple protocol) or one Execute (extended: server-side
    # binding; once prepared, its text is not sent again, only its name in the Bind).
    executed = [fields for fields in sent if fields[2] in ("Query", "Execute")]
    assert len(executed) == 3, sent
    texts = [fields[3] for fields in sent if fields[2] in ("Query", "Parse")]
    named = {fields[3].split('"')[3] for fields in sent if fields[2] == "Bind"} - {""}
    assert bool(named) == bool(settings.DB_PREPARE_THRESHOLD), sent  # run as prepared
    if named:
        prepared = _in_probe_thread(_prepared_statements)
        assert named <= prepared.keys(), (named, prepared)
        texts += [prepared[name] for name in named]
    assert texts, sent
    assert all("agents_app_agent" in text for text in texts), texts


def _prepared_statements() -> dict[str, str]:
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute("SELECT name, statement FROM pg_prepared_statements")
        return dict(cursor.fetchall())


def test_health_probe_replaces_a_terminated_connection_within_the_same_probe() -> None:
    """A kept connection broken since the last probe (its backend terminated, as by a
    server restart) is replaced inside the probe that finds it: that probe reports the
    database ok, not down."""
    from django.db import connection

    client = Client()
    assert client.get("/health").json()["services"]["database"]["status"] == "ok"
    before = _probe_backend_pid()
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_terminate_backend(%s)", [before])
        assert cursor.fetchone() == (True,)
    body = client.get("/health").json()
    assert body["services"]["database"]["status"] == "ok", body["services"]["database"]
    assert "database" not in body.get("failing", []), body
    assert _probe_backend_pid() != before
