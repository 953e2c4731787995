"""Issue 9, R4: graceful shutdown of the web server and of a task worker.

Web: the production server (gunicorn + uvicorn workers) with a test-only slow route
(tests/reliability/slow_settings.py: production settings, production URLs plus
``/slow``, which holds a request and a PostgreSQL connection for N seconds). SIGTERM
to gunicorn's master while requests are in flight, as the platform stops an
instance: the in-flight requests complete with 200, new connections are refused at
once, open WebSockets are closed with 1012 (service restart: reconnect), and the
process exits well within ``graceful_timeout``. A request longer than the graceful
timeout is cut at that timeout: shutdown is bounded (a second server, signalled at
the same moment).

Worker: two Celery workers started side by side, running the slow test tool
(tests/support/slow_tool.py, counting starts and completions in Redis, outside the
database).
- SIGTERM to the worker's main process (``celery worker`` is the service's process):
  warm shutdown, the running task finishes, then the worker exits; one attempt.
- SIGTERM to the worker's whole process group (what a supervisor or container
  runtime that signals every process does): Celery's pool processes die on SIGTERM,
  so the task is interrupted; acks are late and ``reject_on_worker_lost`` puts the
  message back on the queue at once, and the other worker runs it again from the
  start once the first attempt's lease lapsed. The task ends ``completed`` exactly
  once; the tool body started twice and completed once. That re-run is safe because
  claims are conditional on the lease (the dead attempt can no longer checkpoint or
  finish) and tools with outside effects carry idempotency keys (README, "A worker
  killed mid-task").
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from typing import Any
from urllib.parse import urlsplit

import httpx
import pytest
import redis
from django.conf import settings
from django.db import connection
from websockets.exceptions import ConnectionClosed
from websockets.sync.client import ClientConnection, connect
from websockets.typing import Subprotocol

import tests.support.slow_tool  # noqa: F401 - registers test_slow_counter in this process too
from agents_app.models import Agent, AgentTask, TaskStatus
from agents_app.services.tasks import task_create
from devskyy.core.roles import Role
from devskyy.taskqueue import WORKERS_KEY
from tests.support.auth import access_token, make_user
from tests.support.fault_figures import FaultFigures
from tests.support.servers import celery_worker, child_pids, gunicorns, poll

pytestmark = [pytest.mark.services, pytest.mark.slow, pytest.mark.django_db(transaction=True)]

SLOW_SECONDS = 3.0
GRACEFUL_TIMEOUT = 8  # GUNICORN_GRACEFUL_TIMEOUT of the first server (production: 25)
SHORT_GRACEFUL_TIMEOUT = 2  # of the second server, whose request outlasts it
TOO_LONG_SECONDS = 8.0
IN_FLIGHT = 4


def _sleeping_queries(seconds: float) -> int:
    """Requests of /slow?seconds=<seconds> that are inside PostgreSQL right now."""
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() "
            "AND state = 'active' AND query LIKE %s",
            [f"SELECT pg_sleep(%/* slow {float(seconds)!r} */"],
        )
        return int(cursor.fetchone()[0])


def _refused(port: int) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=0.5):
            return False
    except OSError:
        return True


def _get_slow(url: str, seconds: float) -> tuple[int, dict[str, Any], float]:
    started = time.monotonic()
    with httpx.Client(timeout=30) as client:
        response = client.get(f"{url}/slow", params={"seconds": seconds})
    return response.status_code, response.json(), time.monotonic() - started


def _exited_at(process: subprocess.Popen[bytes], timeout: float) -> tuple[int, float]:
    """(exit code, time.monotonic() when it was seen) of ``process``."""
    code = process.wait(timeout=timeout)
    return code, time.monotonic()


def _until_closed(ws: ClientConnection, timeout: float) -> ConnectionClosed:
    deadline = time.monotonic() + timeout
    while True:
        try:
            ws.recv(timeout=max(0.1, deadline - time.monotonic()))
        except ConnectionClosed as closed:
            return closed


def test_sigterm_to_the_web_server_completes_in_flight_requests_and_refuses_new_ones(
    server_env: dict[str, str], fault_figures: FaultFigures
) -> None:
    token = access_token(make_user(Role.READ_ONLY))
    env = {**server_env, "DJANGO_SETTINGS_MODULE": "tests.reliability.slow_settings"}
    envs = [
        {**env, "GUNICORN_GRACEFUL_TIMEOUT": str(GRACEFUL_TIMEOUT)},
        {**env, "GUNICORN_GRACEFUL_TIMEOUT": str(SHORT_GRACEFUL_TIMEOUT)},
    ]
    with (
        gunicorns(envs, workers=[2, 1]) as (server, short),
        ThreadPoolExecutor(max_workers=IN_FLIGHT + 3) as pool,
        connect(
            server.url.replace("http://", "ws://") + "/ws/agents",
            subprotocols=[Subprotocol("bearer"), Subprotocol(token)],
            open_timeout=15,
        ) as ws,
    ):
        port = urlsplit(server.url).port
        assert port is not None
        workers = child_pids(server.process.pid)
        assert len(workers) == 2
        assert json.loads(ws.recv(timeout=15))["type"] == "connected"
        in_flight = [pool.submit(_get_slow, server.url, SLOW_SECONDS) for _ in range(IN_FLIGHT)]
        too_long = pool.submit(_get_slow, short.url, TOO_LONG_SECONDS)
        assert poll(
            lambda: _sleeping_queries(SLOW_SECONDS) == IN_FLIGHT and _sleeping_queries(TOO_LONG_SECONDS) == 1,
            timeout=20,
            interval=0.05,
        ), (_sleeping_queries(SLOW_SECONDS), _sleeping_queries(TOO_LONG_SECONDS))

        os.kill(server.process.pid, signal.SIGTERM)
        os.kill(short.process.pid, signal.SIGTERM)
        signalled = time.monotonic()
        exits = [pool.submit(_exited_at, s.process, GRACEFUL_TIMEOUT + 10) for s in (server, short)]
        assert poll(lambda: _refused(port), timeout=5, interval=0.02)
        refused_after = time.monotonic() - signalled
        still_running = sum(not f.done() for f in in_flight)
        closed = _until_closed(ws, timeout=GRACEFUL_TIMEOUT + 5)
        ws_closed_after = time.monotonic() - signalled
        results = [f.result(timeout=GRACEFUL_TIMEOUT + 5) for f in in_flight]
        (exit_code, exited_at), (_, short_exited_at) = (f.result(timeout=GRACEFUL_TIMEOUT + 15) for f in exits)
        exited_after, short_exited_after = exited_at - signalled, short_exited_at - signalled
        with pytest.raises(httpx.TransportError):
            too_long.result(timeout=10)
        log = server.log()

    fault_figures("SIGTERM to connections refused", refused_after * 1000, "ms")
    fault_figures("in-flight requests still running when refusing began", f"{still_running}/{IN_FLIGHT}")
    fault_figures("in-flight request durations", [round(r[2], 2) for r in results])
    fault_figures("SIGTERM to WebSocket closed", ws_closed_after, "s")
    fault_figures("SIGTERM to master exit", exited_after, "s")
    fault_figures(f"SIGTERM to exit, request past graceful_timeout={SHORT_GRACEFUL_TIMEOUT}s", short_exited_after, "s")

    assert [status for status, _, _ in results] == [200] * IN_FLIGHT, results
    assert all(body["slept"] == SLOW_SECONDS for _, body, _ in results)
    assert {body["pid"] for _, body, _ in results} <= workers
    # Refusing began while requests were still being served, not after they ended.
    assert still_running > 0
    assert closed.rcvd is not None
    assert closed.rcvd.code == 1012, closed.rcvd  # service restart: reconnect
    assert exit_code == 0, log[-3000:]
    assert exited_after < GRACEFUL_TIMEOUT, log[-3000:]
    assert "Traceback" not in log, log[-3000:]
    # Shutdown is bounded: the request longer than graceful_timeout was cut near it.
    assert SHORT_GRACEFUL_TIMEOUT - 0.5 <= short_exited_after < SHORT_GRACEFUL_TIMEOUT + 3


# --- task worker ---------------------------------------------------------------------
@pytest.fixture
def broker() -> redis.Redis:
    client = redis.Redis.from_url(settings.CELERY_BROKER_URL)
    # Messages, unacked entries and liveness marks left by earlier runs.
    client.delete("celery", "unacked", "unacked_index", "unacked_mutex", WORKERS_KEY)
    return client


def _slow_task(counter_key: str, *, steps: int, step_seconds: float) -> str:
    agent, _ = Agent.objects.get_or_create(
        slug="operations-960",
        defaults={"type": "test", "name": "Shutdown probe", "category": "operations", "tools": ["test_slow_counter"]},
    )
    created = task_create(
        agent_slug=agent.slug,
        action="test_slow_counter",
        parameters={"steps": steps, "step_seconds": step_seconds, "counter_key": counter_key},
        user=make_user(Role.OPERATOR),
    )
    return str(created.task.pk)


def _count(broker: redis.Redis, key: str, kind: str) -> int:
    value: Any = broker.get(f"{key}:{kind}")
    return int(value or 0)


def _running_on(task_id: str, progress: int, timeout: float = 60) -> str:
    """The hostname of the worker running ``task_id`` once it reached ``progress``."""
    assert poll(lambda: AgentTask.objects.get(pk=task_id).progress >= progress, timeout=timeout, interval=0.05), (
        AgentTask.objects.get(pk=task_id)
    )
    return AgentTask.objects.get(pk=task_id).worker


def test_sigterm_to_a_worker_finishes_or_requeues_its_task_which_completes_exactly_once(
    server_env: dict[str, str], broker: redis.Redis, fault_figures: FaultFigures
) -> None:
    env = {**server_env, "AGENT_EXTRA_TOOL_MODULES": "tests.support.slow_tool", "TASK_LEASE_SECONDS": "2"}
    names = {label: f"fault-{label}-{uuid.uuid4().hex[:8]}" for label in ("a", "b")}
    with (
        celery_worker(env, hostname=names["a"] + "@%h") as worker_a,
        celery_worker(env, hostname=names["b"] + "@%h") as worker_b,
    ):
        processes = {"a": worker_a, "b": worker_b}

        def both_alive() -> bool:
            found: Any = broker.zrangebyscore(WORKERS_KEY, time.time(), "+inf")
            marks = [m.decode() for m in found]
            return all(any(m.startswith(name + "@") for m in marks) for name in names.values())

        assert poll(both_alive, timeout=60, interval=0.1), "the workers did not start"

        # 1. SIGTERM to the whole process group of the worker running a task.
        group_key = f"group-{uuid.uuid4().hex}"
        group_task = _slow_task(group_key, steps=12, step_seconds=0.25)
        host = _running_on(group_task, 25)
        victim = next(label for label, name in names.items() if host.startswith(name + "@"))
        survivor = "b" if victim == "a" else "a"
        assert child_pids(processes[victim].pid), "the worker had no pool process"
        os.killpg(processes[victim].pid, signal.SIGTERM)  # every process of that worker, pool included
        signalled = time.monotonic()
        processes[victim].wait(timeout=30)
        victim_exited_after = time.monotonic() - signalled
        assert poll(lambda: AgentTask.objects.get(pk=group_task).status == TaskStatus.COMPLETED, timeout=60)
        requeued_done_after = time.monotonic() - signalled
        time.sleep(1.0)  # room for a duplicate delivery to misbehave, if any
        group_row = AgentTask.objects.get(pk=group_task)

        # 2. SIGTERM to the main process of the worker running a task: warm shutdown.
        warm_key = f"warm-{uuid.uuid4().hex}"
        warm_task = _slow_task(warm_key, steps=12, step_seconds=0.25)
        assert _running_on(warm_task, 25).startswith(names[survivor] + "@")
        os.kill(processes[survivor].pid, signal.SIGTERM)  # the main process only, as `kill <pid>`
        signalled = time.monotonic()
        warm_exit = processes[survivor].wait(timeout=30)
        warm_exited_after = time.monotonic() - signalled
        warm_row = AgentTask.objects.get(pk=warm_task)

    fault_figures("group SIGTERM to that worker's exit", victim_exited_after, "s")
    fault_figures("group SIGTERM to the task completed on the other worker", requeued_done_after, "s")
    fault_figures("SIGTERM to main process to exit (task finished first)", warm_exited_after, "s")

    # Re-queued: interrupted on one worker, completed once on the other.
    assert group_row.status == TaskStatus.COMPLETED
    assert group_row.worker.startswith(names[survivor] + "@"), group_row.worker
    assert group_row.attempts == 2
    assert group_row.result == {"steps": 12}
    assert _count(broker, group_key, "starts") == 2
    assert _count(broker, group_key, "completions") == 1
    # Warm shutdown: finished where it ran, once, acknowledged before the worker left.
    assert warm_exit == 0
    assert warm_row.status == TaskStatus.COMPLETED, (warm_row.status, warm_row.error_code)
    assert warm_row.worker.startswith(names[survivor] + "@")
    assert warm_row.attempts == 1
    assert warm_row.result == {"steps": 12}
    assert _count(broker, warm_key, "starts") == 1
    assert _count(broker, warm_key, "completions") == 1
    assert broker.llen("celery") == 0
