"""Issue 9, R1: Redis stopped for 20 s under steady load, then started again.

The test runs its own redis-server on a free port and points the production server
(gunicorn, 2 uvicorn workers) and a Celery worker at it, with steady load on read
endpoints (``/live``, ``/health``, the agents list and the product list, both
authenticated) from start to end. Then Redis stops for 20 s and comes back on the
same port, empty (no persistence: the worst case).

What a user sees, and what is asserted:
- reads: no 5xx and no dropped request in any phase, and no request waits out a
  Redis timeout (the cache breaker, the limiter's fallback and the version counters
  fail fast); latencies of each phase are reported;
- ``/health``: 200 ``degraded`` naming cache, channel layer and task queue while Redis
  is down; ``healthy`` on every worker again within a few seconds of its return;
- rate limiting: falls back to per-process memory while down (the security event
  ``rate_limiter_unavailable`` is counted); afterwards the shared limit is enforced
  from Redis again (a 5-per-minute login window counts down across both workers, its
  counters live in Redis, the 6th request is a 429);
- cache: nothing on this test's request paths reads the Django cache any longer (the
  logout denylist, its last reader here, moved to PostgreSQL; LLM answers are cached
  where tasks run), so its fail-fast and recovery are asserted by
  tests/devskyy/test_observability.py's breaker test against a Redis stopped and
  started; here, ``/health`` reports it down, then ok on every worker;
- logout: an access token logged out before the outage is refused during it and
  after Redis came back empty (the denylist is in PostgreSQL), as is one logged out
  after it;
- live feed (``/ws/agents``, delivered through PostgreSQL, not Redis): a socket
  connected before the outage gets events caused through the API during and after
  it; if it were dropped, it reconnects and resumes from its last ``seq``; new sockets
  connect during and after the outage;
- task queue: a task created after Redis returns runs on the worker that lived
  through the outage.

A second test freezes Redis instead (SIGSTOP for 5 s: connections stay open, nothing
is answered), the harder case for timeouts: every read still answers 200, none waits
longer than one Redis timeout (the rate limiter's check on the event loop gives up
after 0.5 s and opens its breaker and the version counters'), and /health stays
within its deadline.
"""

from __future__ import annotations

import io
import os
import re
import signal
import time
from collections.abc import Callable
from typing import Any

import httpx
import pytest
import redis as redis_lib
from django.core.management import call_command
from rest_framework_simplejwt.tokens import RefreshToken

from agents_app.models import Agent
from devskyy.core.roles import Role
from tests.support.auth import access_token, make_user
from tests.support.fault_figures import FaultFigures
from tests.support.fault_load import Load, Sample, Target, latency_summary, statuses
from tests.support.fault_ws import FeedClient
from tests.support.servers import Server, celery_worker, gunicorns, poll, redis_server

pytestmark = [pytest.mark.services, pytest.mark.slow, pytest.mark.django_db(transaction=True)]

OUTAGE_SECONDS = 20.0  # required by the issue
LOGIN_LIMIT = 5
RECOVERY_GOAL_SECONDS = 5.0
# Below every Redis socket timeout of the server (REDIS_SOCKET_TIMEOUT 5 s): a request
# slower than this waited on Redis instead of failing fast. Generous for a busy machine.
MAX_LATENCY_SECONDS = 2.5
AGENT = "operations-950"
READS = ("/live", "/health", "/api/v1/agents", "/api/v1/commerce/products?limit=20")
REDIS_SERVICES = {"cache", "channel_layer", "task_queue"}


def _fresh(server: Server, method: str, path: str, **kwargs: Any) -> httpx.Response:
    """One request on a new connection (so requests spread over both workers)."""
    with httpx.Client(base_url=server.url, headers={"Connection": "close"}, timeout=10) as client:
        return client.request(method, path, **kwargs)


def _metric(server: Server, name: str, labels: str = "") -> float:
    text = _fresh(server, "GET", "/metrics").text
    pattern = rf"^{re.escape(name)}{re.escape(labels)} (\S+)$"
    match = re.search(pattern, text, re.M)
    return float(match.group(1)) if match else 0.0


def _every_worker(
    server: Server, check: Callable[[dict[str, Any]], bool], workers: int, timeout: float
) -> float | None:
    """Seconds until ``workers`` distinct worker pids answered ``/health`` with ``check``
    true (a worker answering false is counted out again), or None."""
    started = time.monotonic()
    good: set[int] = set()
    while time.monotonic() - started < timeout:
        body = _fresh(server, "GET", "/health").json()
        pid = body["services"]["api"]["pid"]
        if check(body):
            good.add(pid)
            if len(good) >= workers:
                return time.monotonic() - started
        else:
            good.discard(pid)
        time.sleep(0.05)
    return None


def _healthy(body: dict[str, Any]) -> bool:
    return body["status"] == "healthy" and "breaker" not in body["services"]["cache"]


def _degraded_by_redis(body: dict[str, Any]) -> bool:
    return body["status"] == "degraded" and set(body.get("failing", [])) >= REDIS_SERVICES


def _agent_event(client: FeedClient, status: str, start: int, timeout: float = 15) -> dict[str, Any] | None:
    return client.wait_for(
        lambda m: m["type"] == "agent_status_update" and m["agent_id"] == AGENT and m["status"] == status,
        timeout=timeout,
        start=start,
    )


def _phase(samples: list[Sample]) -> str:
    return f"{latency_summary(samples)} {statuses(samples)}"


def test_redis_stopped_for_20s_under_load_degrades_and_recovers_without_restart(
    server_env: dict[str, str], fault_figures: FaultFigures
) -> None:
    call_command("seed_agents", stdout=io.StringIO())
    call_command("seed_demo_shop", stdout=io.StringIO())
    Agent.objects.create(
        slug=AGENT, type="test", name="Redis outage probe", category="operations", tools=["task_queue_report"]
    )
    operator = make_user(Role.OPERATOR)
    token = access_token(operator)
    auth = {"Authorization": f"Bearer {token}"}
    reader_auth = {"Authorization": f"Bearer {access_token(make_user(Role.READ_ONLY))}"}

    with redis_server() as redis:
        env = {
            **server_env,
            "REDIS_URL": redis.url,
            "REDIS_BREAKER_SECONDS": "1",
            "WORKER_HEARTBEAT_SECONDS": "1",
            "LOGIN_RATE_LIMIT_PER_MINUTE": str(LOGIN_LIMIT),
            # The load is two users: the per-user limits stay out of its way.
            "RATE_LIMIT_PER_MINUTE": "1000000",
            "RATE_LIMIT_PER_HOUR": "1000000",
        }
        with gunicorns([env], workers=2) as (server,), celery_worker(env):
            assert _every_worker(server, _healthy, 2, timeout=60) is not None, server.log()[-3000:]
            feed = FeedClient(server.url, "agents", token)
            feed.connect()

            def op(path: str) -> httpx.Response:
                return _fresh(server, "POST", path, headers=auth)

            threads = [
                [Target(server.url, path, reader_auth if path.startswith("/api/") else {})] for path in READS
            ] + [[Target(server.url, path, auth if path.startswith("/api/") else {}) for path in READS]]
            with Load(threads, keep_alive=[False, False, True, True, False]) as load:
                time.sleep(2.0)
                # A session ended before the outage: its access token must stay refused
                # while Redis is away and after it comes back empty.
                ended = RefreshToken.for_user(make_user(Role.READ_ONLY))
                ended_auth = {"Authorization": f"Bearer {ended.access_token}"}
                ended_logout = _fresh(
                    server, "POST", "/api/v1/auth/logout", json={"refresh": str(ended)}, headers=ended_auth
                )
                limiter_events_before = _metric(
                    server, "security_events_total", '{event_type="rate_limiter_unavailable"}'
                )

                # --- Redis down ---------------------------------------------------------
                redis.stop()
                stopped_at = time.monotonic()
                to_degraded = _every_worker(server, _degraded_by_redis, 2, timeout=10)
                degraded_body = _fresh(server, "GET", "/health")

                mark = feed.mark()
                stop_during = op(f"/api/v1/agents/{AGENT}/stop")
                event_during = _agent_event(feed, "disabled", mark)
                if event_during is None and feed.dropped:
                    feed.reconnect()
                    event_during = _agent_event(feed, "disabled", mark)
                newcomer = FeedClient(server.url, "agents", token)
                newcomer.connect()
                mark_new = newcomer.mark()
                start_during = op(f"/api/v1/agents/{AGENT}/start")
                newcomer_event = _agent_event(newcomer, "idle", mark_new)
                limiter_events = _metric(server, "security_events_total", '{event_type="rate_limiter_unavailable"}')
                ended_during = [_fresh(server, "GET", "/api/v1/auth/me", headers=ended_auth) for _ in range(4)]

                time.sleep(max(0.0, stopped_at + OUTAGE_SECONDS - time.monotonic()))
                # --- Redis back, same port, empty ----------------------------------------
                redis.start()
                started_at = time.monotonic()
                outage = started_at - stopped_at
                to_healthy = _every_worker(server, _healthy, 2, timeout=30)
                # The limiter's own breaker (REDIS_BREAKER_SECONDS=1 here) may still be open in
                # a worker whose last Redis error came just before the restart: past it, every
                # worker counts in Redis again (CI once saw one worker still on its fallback).
                time.sleep(1.5)

                login = [_fresh(server, "POST", "/api/v1/auth/token", json={}) for _ in range(LOGIN_LIMIT + 1)]
                limiter_keys = list(redis_lib.Redis.from_url(redis.url).scan_iter(match="*:rl:*login*"))

                ended_after = [_fresh(server, "GET", "/api/v1/auth/me", headers=ended_auth) for _ in range(4)]
                refresh = RefreshToken.for_user(make_user(Role.READ_ONLY))
                leaving = {"Authorization": f"Bearer {refresh.access_token}"}
                logout = _fresh(server, "POST", "/api/v1/auth/logout", json={"refresh": str(refresh)}, headers=leaving)
                after_logout = _fresh(server, "GET", "/api/v1/auth/me", headers=leaving)

                mark = feed.mark()
                stop_after = op(f"/api/v1/agents/{AGENT}/stop")
                event_after = _agent_event(feed, "disabled", mark)
                if event_after is None and feed.dropped:
                    feed.reconnect()
                    event_after = _agent_event(feed, "disabled", mark)
                latecomer = FeedClient(server.url, "agents", token)
                latecomer.connect()
                mark_late = latecomer.mark()
                op(f"/api/v1/agents/{AGENT}/start")
                latecomer_event = _agent_event(latecomer, "idle", mark_late)

                created = _fresh(
                    server,
                    "POST",
                    "/api/v1/tasks",
                    headers=auth,
                    json={"agent_id": AGENT, "action": "task_queue_report", "parameters": {}},
                )
                assert created.status_code == 202, created.text
                task_id = created.json()["id"]
                task_started = time.monotonic()
                completed = poll(
                    lambda: (
                        _fresh(server, "GET", f"/api/v1/tasks/{task_id}", headers=auth).json()["status"] == "completed"
                    ),
                    timeout=40,
                    interval=0.2,
                )
                task_seconds = time.monotonic() - task_started
                start_to_task_done = time.monotonic() - started_at
                time.sleep(1.0)
            ended_at = time.monotonic()
            for client in (feed, newcomer, latecomer):
                client.close()
            log = server.log()[-4000:]

    reads = {target.name for thread in threads for target in thread}
    baseline = load.between(0, stopped_at, reads)
    down = load.between(stopped_at, started_at, reads)
    back = load.between(started_at, ended_at, reads)
    fault_figures("outage (redis stop to start)", outage, "s")
    fault_figures("stop to /health degraded on both workers", to_degraded, "s")
    fault_figures("start to /health healthy on both workers", to_healthy, "s")
    fault_figures("task created after recovery: create to completed", task_seconds, "s")
    fault_figures("redis start to that task completed", start_to_task_done, "s")
    fault_figures("reads before the outage", _phase(baseline))
    fault_figures("reads during the outage", _phase(down))
    fault_figures("reads after the outage", _phase(back))
    for path in READS:
        fault_figures(f"{path} during the outage", _phase([s for s in down if s.target == path]))
    fault_figures("feed socket drops (close codes)", feed.drops)

    # Reads: never a 5xx or a dropped request, never a wait on a Redis timeout.
    everything = baseline + down + back
    assert all(s.status is not None and s.status < 500 for s in everything), statuses(everything)
    assert {s.status for s in everything} == {200}, statuses(everything)
    assert len(down) > 100, len(down)
    assert max(s.seconds for s in down) < MAX_LATENCY_SECONDS, _phase(down)

    # /health: degraded, naming the Redis-backed services, then healthy everywhere.
    assert to_degraded is not None, log
    assert degraded_body.status_code == 200
    assert {"cache", "channel_layer", "task_queue"} <= set(degraded_body.json()["failing"])
    assert degraded_body.json()["services"]["database"]["status"] == "ok"
    assert to_healthy is not None, log
    assert to_healthy <= RECOVERY_GOAL_SECONDS, to_healthy

    # Rate limiting: per-process fallback while down, the shared Redis limit after.
    assert limiter_events > limiter_events_before
    assert [r.status_code for r in login] == [400] * LOGIN_LIMIT + [429], [r.text for r in login]
    assert [int(r.headers["X-RateLimit-Remaining"]) for r in login[:LOGIN_LIMIT]] == list(range(LOGIN_LIMIT))[::-1]
    assert login[-1].json()["error"]["code"] == "throttled"
    assert limiter_keys, "the login window is not counted in Redis"

    # Logout: a session ended before the outage stays ended during it and after Redis
    # came back empty (the denylist is in PostgreSQL); one ended after it, too.
    # Four requests each, on fresh connections (spread over the workers).
    assert ended_logout.status_code == 204, ended_logout.text
    assert [r.status_code for r in ended_during] == [401] * 4, [r.text for r in ended_during]
    assert [r.status_code for r in ended_after] == [401] * 4, [r.text for r in ended_after]
    assert logout.status_code == 204, logout.text
    assert after_logout.status_code == 401, after_logout.text

    # Live feed: delivery kept through the outage and after it; new sockets connect.
    assert stop_during.status_code == 200, stop_during.text
    assert start_during.status_code == 200, start_during.text
    assert event_during is not None, feed.messages[-5:]
    assert newcomer_event is not None, newcomer.messages[-5:]
    assert stop_after.status_code == 200, stop_after.text
    assert event_after is not None, feed.messages[-5:]
    assert latecomer_event is not None, latecomer.messages[-5:]
    seqs = [m["seq"] for m in feed.messages if m["type"] == "agent_status_update"]
    assert seqs == sorted(set(seqs)), seqs  # in order, none twice, across any reconnect

    # Task queue: the worker that lived through the outage takes work again.
    assert completed, log


HANG_SECONDS = 5.0
# A hung Redis (it accepts, never answers) costs a request at most one Redis timeout
# (0.5 s: the rate limiter's check on the event loop); after it, the limiter's and the
# version counters' breakers are open and nothing waits on Redis again. /health answers
# within its own 0.9 s deadline. (Before the limiter opened the version counters'
# breaker too, an API request waited out two timeouts: 1.0-1.14 s.)
HUNG_MAX_SECONDS = 1.0


def test_a_hung_redis_holds_reads_no_longer_than_one_timeout_and_they_all_succeed(
    server_env: dict[str, str], fault_figures: FaultFigures
) -> None:
    """Redis frozen (SIGSTOP: connections stay open, nothing is answered) for 5 s under
    the same steady reads; then it resumes with its data."""
    call_command("seed_agents", stdout=io.StringIO())
    call_command("seed_demo_shop", stdout=io.StringIO())
    reader_auth = {"Authorization": f"Bearer {access_token(make_user(Role.READ_ONLY))}"}
    with redis_server() as redis:
        env = {
            **server_env,
            "REDIS_URL": redis.url,
            "RATE_LIMIT_PER_MINUTE": "1000000",
            "RATE_LIMIT_PER_HOUR": "1000000",
        }
        with gunicorns([env], workers=2) as (server,):
            threads = [[Target(server.url, path, reader_auth if path.startswith("/api/") else {})] for path in READS]
            with Load(threads, keep_alive=[False, False, True, True]) as load:
                time.sleep(2.0)
                os.kill(redis.pid, signal.SIGSTOP)
                hung_at = time.monotonic()
                try:
                    time.sleep(HANG_SECONDS)
                finally:
                    os.kill(redis.pid, signal.SIGCONT)
                resumed_at = time.monotonic()
                time.sleep(3.0)
                ended_at = time.monotonic()
            log = server.log()[-3000:]
    hung = load.between(hung_at, resumed_at)
    after = load.between(resumed_at, ended_at)
    fault_figures("reads while Redis was hung", _phase(hung))
    fault_figures("reads after it resumed", _phase(after))
    for path in READS:
        fault_figures(f"{path} while Redis was hung", _phase([s for s in hung if s.target == path]))
    assert len(hung) > 20, _phase(hung)
    assert {s.status for s in hung + after} == {200}, (statuses(hung + after), log)
    assert max(s.seconds for s in hung) < HUNG_MAX_SECONDS, _phase(hung)
    api = [s for s in hung if s.target.startswith("/api/")]
    assert api, _phase(hung)
