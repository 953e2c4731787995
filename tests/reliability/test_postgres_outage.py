"""Issue 9, R2: PostgreSQL unavailable for a while, under load, then back.

Two production servers (gunicorn + uvicorn workers) reach the test database through
a loopback proxy the test cuts (every open connection closed, new ones refused: what
a crashed or restarting PostgreSQL looks like to its clients) and restores: one
server in the default ``persistent`` connection mode with 2 workers, one in ``pool``
mode (psycopg_pool), both on the same outage.

What must hold while load runs on every probe and on an authenticated API read (as
many API readers as a worker has request threads, so that in pool mode, where each
waits DB_POOL_TIMEOUT for a connection, every request thread is busy): ``/live``
answers 200 throughout, and fast (probes run on threads of their own,
devskyy/wsgi_bridge.py); ``/ready`` (and ``/health``) answer 503 while the database
is away, each within the probe's deadline; API reads answer 200 or a 503
``database_unavailable`` envelope, never a 500; no request outlives the configured
database timeouts (connect timeout, pool wait); after the restore every worker
reports its database ok (``/ready`` 200) within 5 s, and no worker was restarted.
"""

from __future__ import annotations

import io
import time
from urllib.parse import urlsplit, urlunsplit

import httpx
import pytest
from django.core.management import call_command

from health_app.services import READY_DEADLINE_SECONDS
from tests.support.auth import access_token, make_user
from tests.support.fault_figures import FaultFigures
from tests.support.fault_load import Load, Target, latency_summary, statuses
from tests.support.servers import Server, child_pids, gunicorns
from tests.support.tcp_proxy import tcp_proxy

pytestmark = [pytest.mark.services, pytest.mark.slow, pytest.mark.django_db(transaction=True)]

OUTAGE_SECONDS = 6.0
RECOVERY_GOAL_SECONDS = 5.0
# DB_CONNECT_TIMEOUT and DB_POOL_TIMEOUT of the servers: the longest a request may
# wait for a connection.
DATABASE_TIMEOUT = 3
# Scheduling slack on a loaded 2-core machine on top of a configured timeout.
SLACK_SECONDS = 2.0
PATHS = ("/live", "/ready", "/health", "/api/v1/agents")
WEB_THREADS = 4
API_READERS = WEB_THREADS  # per server
# /live touches no dependency: even on a busy machine it answers well under the
# database timeout a request thread may be stuck in (queued behind those requests,
# it would wait up to DATABASE_TIMEOUT).
LIVE_MAX_SECONDS = 1.5


def _through(database_url: str, port: int) -> str:
    parts = urlsplit(database_url)
    host = f"{parts.hostname}:{port}"
    return urlunsplit(parts._replace(netloc=f"{parts.username}@{host}" if parts.username else host))


def _worker_answer(server: Server) -> tuple[int, bool]:
    """(pid, database ok) from whichever worker takes a fresh connection."""
    with httpx.Client(headers={"Connection": "close"}, timeout=10) as fresh:
        body = fresh.get(server.url + "/health").json()
    return body["services"]["api"]["pid"], body["services"]["database"]["status"] == "ok"


def _until_every_worker_sees_the_database(server: Server, workers: set[int], *, timeout: float) -> float | None:
    """Seconds until each worker in ``workers`` answered with its database ok, or None."""
    started = time.monotonic()
    pending = set(workers)
    while pending and time.monotonic() - started < timeout:
        pid, ok = _worker_answer(server)
        if ok:
            pending.discard(pid)
        time.sleep(0.02)
    return None if pending else time.monotonic() - started


def test_postgres_outage_fails_ready_keeps_live_and_recovers_without_restarting_workers(
    server_env: dict[str, str], fault_figures: FaultFigures
) -> None:
    call_command("seed_agents", stdout=io.StringIO())
    headers = {"Authorization": f"Bearer {access_token(make_user())}"}
    pg_port = urlsplit(server_env["DATABASE_URL"]).port or 5432
    with tcp_proxy(pg_port) as proxy:
        env = {
            **server_env,
            "DATABASE_URL": _through(server_env["DATABASE_URL"], proxy.port),
            "DB_CONNECT_TIMEOUT": str(DATABASE_TIMEOUT),
            "DB_POOL_TIMEOUT": str(DATABASE_TIMEOUT),
            "WEB_THREADS": str(WEB_THREADS),
            # One user makes the load: keep the rate limiter out of these figures.
            "RATE_LIMIT_PER_MINUTE": "1000000",
            "RATE_LIMIT_PER_HOUR": "1000000",
        }
        pool_env = {**env, "DB_CONNECTION_MODE": "pool", "DB_POOL_SIZE": "2", "DB_MAX_OVERFLOW": "2"}
        with gunicorns([env, pool_env], workers=[2, 1]) as (persistent, pool):
            servers = {"persistent": persistent, "pool": pool}
            workers = {name: child_pids(server.process.pid) for name, server in servers.items()}
            assert [len(workers["persistent"]), len(workers["pool"])] == [2, 1], workers
            for name, server in servers.items():
                # Every worker has used the database: its connections are open when it goes.
                assert _until_every_worker_sees_the_database(server, workers[name], timeout=30) is not None, name

            # One thread per server and path (API_READERS for the API read), so a slow
            # answer delays only its own path; probes on fresh connections (they reach
            # every worker), API reads kept alive.
            threads = [
                [Target(server.url, path, headers if path.startswith("/api/") else {}, f"{name} {path}")]
                for name, server in servers.items()
                for path in PATHS
                for _ in range(API_READERS if path.startswith("/api/") else 1)
            ]
            keep_alive = [t[0].path.startswith("/api/") for t in threads]
            with Load(threads, keep_alive=keep_alive) as load:
                time.sleep(2.0)
                cut_at = time.monotonic()
                proxy.cut()
                time.sleep(OUTAGE_SECONDS)
                restored_at = time.monotonic()
                proxy.restore()
                recovery = {
                    name: _until_every_worker_sees_the_database(server, workers[name], timeout=30)
                    for name, server in servers.items()
                }
                time.sleep(1.0)
            ended_at = time.monotonic()
            logs = {name: server.log()[-3000:] for name, server in servers.items()}
            survivors = {name: child_pids(server.process.pid) for name, server in servers.items()}

    everything = load.between(0, ended_at)
    # Requests that began after the cut and ended before the restore saw only the outage.
    during = load.between(cut_at + 0.2, restored_at)
    for name in servers:
        fault_figures(f"{name}: restore to every worker's database ok", recovery[name], "s")
        for path in PATHS:
            label = f"{name} {path}"
            mine = [s for s in during if s.target == label]
            fault_figures(f"{label} during the outage", f"{latency_summary(mine)} {statuses(mine)}")
    longest = max(everything, key=lambda s: s.seconds)
    fault_figures("longest request of the run", f"{longest.target} {longest.seconds * 1000:.0f}ms")

    live = [s for s in everything if s.target.endswith(" /live")]
    assert {s.status for s in live} == {200}, statuses(live)
    live_during = [s for s in during if s.target.endswith(" /live")]
    assert max(s.seconds for s in live_during) < LIVE_MAX_SECONDS, latency_summary(live_during)
    for name in servers:
        for probe in ("/ready", "/health"):
            answers = [s for s in during if s.target == f"{name} {probe}"]
            assert answers, f"no {probe} answer from {name} during the outage"
            assert {s.status for s in answers} == {503}, (name, probe, statuses(answers))
            assert max(s.seconds for s in answers) <= READY_DEADLINE_SECONDS + SLACK_SECONDS, latency_summary(answers)
        # In pool mode an API read waits DB_POOL_TIMEOUT, so few fit inside the outage:
        # judge every read that started during it (one ending after the restore may be 200).
        api = [s for s in everything if s.target == f"{name} /api/v1/agents" and cut_at + 0.2 <= s.start < restored_at]
        assert api, f"no API read of {name} started during the outage"
        assert {(s.status, s.error) for s in api} <= {(200, ""), (503, "database_unavailable")}, statuses(api)

    # Nothing hung: every request got an HTTP answer within the database timeouts.
    assert all(s.status is not None for s in everything), statuses(everything)
    assert longest.seconds <= DATABASE_TIMEOUT + SLACK_SECONDS, longest

    for name in servers:
        recovered = recovery[name]
        assert recovered is not None, f"{name}: a worker never saw the database again\n{logs[name]}"
        assert recovered <= RECOVERY_GOAL_SECONDS, (name, recovered)
        assert survivors[name] == workers[name], f"{name}: workers were replaced\n{logs[name]}"
        after = [s for s in load.between(restored_at + recovered, ended_at) if s.target.startswith(f"{name} ")]
        assert after, name
        assert {s.status for s in after} == {200}, (name, statuses(after))
