"""Agents end to end on real PostgreSQL, Redis, gunicorn and Celery worker processes."""

from __future__ import annotations

import io
import json
import os
import signal
import time
import uuid
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from typing import Any

import httpx
import pytest
import redis
from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.management import call_command
from django.test import Client
from django.utils.crypto import get_random_string
from websockets.exceptions import ConnectionClosed
from websockets.sync.client import ClientConnection, connect
from websockets.typing import Origin

import tests.support.slow_tool  # noqa: F401 - registers test_slow_counter in this process too
from agents_app.models import Agent, AgentTask, TaskStatus
from agents_app.services.tasks import task_create
from devskyy.core.accounts import user_set_roles
from devskyy.core.events import deliver
from devskyy.core.roles import Role
from tests.support.servers import beat_only, celery_beat, celery_worker, gunicorn, poll

pytestmark = [pytest.mark.services, pytest.mark.slow, pytest.mark.django_db(transaction=True)]

LEASE_SECONDS = 4
VISIBILITY_SECONDS = 3


@pytest.fixture
def broker() -> redis.Redis:
    client = redis.Redis.from_url(settings.CELERY_BROKER_URL)
    # Messages and unacked entries left by earlier runs would be re-delivered here.
    client.delete("celery", "unacked", "unacked_index", "unacked_mutex")
    return client


@pytest.fixture
def live_env(server_env: dict[str, str], broker: redis.Redis) -> dict[str, str]:
    return {
        **server_env,
        # Same keys as this process: sessions made here are valid in the servers.
        "SECRET_KEY": settings.SECRET_KEY,
        "AGENT_EXTRA_TOOL_MODULES": "tests.support.slow_tool",
        "TASK_LEASE_SECONDS": str(LEASE_SECONDS),
        "CELERY_VISIBILITY_TIMEOUT": str(VISIBILITY_SECONDS),
        "METRICS_FEED_INTERVAL_SECONDS": "0.5",
        # These tests poll task status while a loaded machine may take seconds to start a
        # task: the default 60 requests/min would answer 429 (rate limiting has its own tests).
        "RATE_LIMIT_PER_MINUTE": "100000",
        "RATE_LIMIT_PER_HOUR": "1000000",
    }


def _login(username: str, *, staff: bool = False) -> tuple[Any, dict[str, str]]:
    user = get_user_model().objects.create_user(username=username, password=get_random_string(20), is_staff=staff)
    user_set_roles(user=user, roles=[Role.OPERATOR if staff else Role.API_USER])
    client = Client()
    client.force_login(user)
    csrf = get_random_string(32)
    return user, {"sessionid": client.cookies["sessionid"].value, "csrftoken": csrf}


def _http(base_url: str, cookies: dict[str, str]) -> httpx.Client:
    return httpx.Client(base_url=base_url, cookies=cookies, headers={"X-CSRFToken": cookies["csrftoken"]}, timeout=15)


@contextmanager
def _ws(base_url: str, channel: str, cookies: dict[str, str] | None) -> Iterator[ClientConnection]:
    headers = {"Cookie": "; ".join(f"{k}={v}" for k, v in cookies.items())} if cookies else {}
    url = base_url.replace("http://", "ws://") + f"/ws/{channel}"
    with connect(url, additional_headers=headers, origin=Origin(base_url), open_timeout=10) as ws:
        yield ws


def _recv(ws: ClientConnection, timeout: float = 10) -> dict[str, Any]:
    message: dict[str, Any] = json.loads(ws.recv(timeout=timeout))
    return message


def _recv_until(ws: ClientConnection, predicate: Any, timeout: float = 30) -> list[dict[str, Any]]:
    """Every message up to and including the first matching ``predicate``."""
    seen: list[dict[str, Any]] = []
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        message = _recv(ws, timeout=max(0.1, deadline - time.monotonic()))
        seen.append(message)
        if predicate(message):
            return seen
    raise AssertionError(f"no matching message within {timeout}s; got {seen}")


def _no_more(ws: ClientConnection, wait: float = 1.0, ignore: tuple[str, ...] = ("metrics_update",)) -> list[dict]:
    extra: list[dict] = []
    deadline = time.monotonic() + wait
    while True:
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            return extra
        try:
            message = _recv(ws, timeout=remaining)
        except TimeoutError:
            return extra
        if message["type"] not in ignore:
            extra.append(message)


def _counter(broker: redis.Redis, key: str, kind: str) -> int:
    value: Any = broker.get(f"{key}:{kind}")
    return int(value or 0)


def _slow_agent() -> Agent:
    return Agent.objects.create(
        slug="operations-900", type="test", name="Slow test agent", category="operations", tools=["test_slow_counter"]
    )


def test_tool_task_runs_on_a_worker_and_streams_to_a_socket_on_another_server(live_env: dict[str, str]) -> None:
    call_command("seed_agents", stdout=io.StringIO())
    call_command("seed_demo_shop", stdout=io.StringIO())
    _, cookies = _login("alice")
    with ExitStack() as stack:
        api_server = stack.enter_context(gunicorn(live_env, workers=1))
        ws_server = stack.enter_context(gunicorn(live_env, workers=1))
        stack.enter_context(celery_worker(live_env))
        assert api_server.process.pid != ws_server.process.pid
        http = stack.enter_context(_http(api_server.url, cookies))
        ws = stack.enter_context(_ws(ws_server.url, "tasks", cookies))
        assert _recv(ws)["type"] == "connected"
        ws.send(json.dumps({"type": "subscribe", "agent_id": "commerce-001"}))
        assert _recv(ws)["type"] == "subscribed"
        before = http.get("/api/v1/agents/commerce-001/stats").json()

        response = http.post(
            "/api/v1/agents/commerce-001/execute",
            json={"task": "low_stock_report", "parameters": {"threshold": 5}},
        )
        assert response.status_code == 202, response.text
        task_id = response.json()["id"]

        events = _recv_until(ws, lambda m: m.get("task_id") == task_id and m["status"] == "completed")
        updates = [e for e in events if e["type"] == "task_update"]
        assert [e["status"] for e in updates][0] == "pending"
        assert "running" in [e["status"] for e in updates]
        seqs = [e["seq"] for e in updates]
        assert seqs == sorted(seqs)
        assert len(set(seqs)) == len(seqs)
        assert all(e["timestamp"].endswith("Z") for e in updates)

        task = http.get(f"/api/v1/tasks/{task_id}").json()
        assert task["status"] == "completed"
        assert task["attempts"] == 1
        expected = AgentTask.objects.get(pk=task_id).result
        assert task["result"] == expected
        from commerce_app.models import Product, ProductStatus

        assert task["result"]["count"] == Product.objects.filter(status=ProductStatus.ACTIVE, stock__lte=5).count()
        after = http.get("/api/v1/agents/commerce-001/stats").json()
        assert after["tasksCompleted"] == before["tasksCompleted"] + 1
        assert after["successRate"] == 100.0
        assert after["avgLatencyMs"] is not None


def test_a_task_survives_a_killed_worker_and_completes_exactly_once(
    live_env: dict[str, str], broker: redis.Redis
) -> None:
    user = get_user_model().objects.create_user(username="bob", password=get_random_string(20))
    _slow_agent()
    key = f"kill-{uuid.uuid4().hex}"
    with celery_worker(live_env) as first:
        created = task_create(
            agent_slug="operations-900",
            action="test_slow_counter",
            parameters={"steps": 20, "step_seconds": 0.25, "counter_key": key},
            user=user,
        )
        task_id = created.task.pk
        assert poll(lambda: AgentTask.objects.get(pk=task_id).progress >= 20, timeout=30), AgentTask.objects.get(
            pk=task_id
        )
        assert _counter(broker, key, "starts") == 1
        os.killpg(first.pid, signal.SIGKILL)  # worker and its pool child, no chance to ack or requeue
        first.wait(timeout=10)
        killed_at = time.monotonic()
    row = AgentTask.objects.get(pk=task_id)
    assert row.status == TaskStatus.RUNNING  # the dead worker could not finish it
    assert row.attempts == 1
    with celery_worker(live_env):
        assert poll(lambda: AgentTask.objects.get(pk=task_id).status == TaskStatus.COMPLETED, timeout=60)
        recovered_after = time.monotonic() - killed_at
        time.sleep(1.5)  # room for a duplicate delivery to misbehave, if any
    row = AgentTask.objects.get(pk=task_id)
    assert row.status == TaskStatus.COMPLETED
    assert row.attempts == 2
    assert row.result == {"steps": 20}
    assert _counter(broker, key, "starts") == 2
    assert _counter(broker, key, "completions") == 1
    # Redelivery needs the visibility timeout, then the lease to lapse; the run takes 5 s.
    assert recovered_after < 40, recovered_after


def test_beat_queues_again_a_pending_task_whose_message_was_lost(live_env: dict[str, str], broker: redis.Redis) -> None:
    """A message popped by a worker that died before recording it (or lost with Redis's
    data) leaves a pending row that nothing would run: the beat sweep queues it again."""
    _slow_agent()
    key = f"lost-{uuid.uuid4().hex}"
    # The row as task_create leaves it, but its message never reached the queue.
    lost = AgentTask.objects.create(
        agent=Agent.objects.get(slug="operations-900"),
        action="test_slow_counter",
        parameters={"steps": 1, "step_seconds": 0.01, "counter_key": key},
    )
    env = {
        **live_env,
        "TASK_REQUEUE_PENDING_SECONDS": "3",
        **beat_only(TASK_REQUEUE_INTERVAL_SECONDS="1"),
    }
    started = time.monotonic()
    with celery_worker(env), celery_beat(env):
        assert poll(lambda: AgentTask.objects.get(pk=lost.pk).status == TaskStatus.COMPLETED, timeout=60), (
            AgentTask.objects.get(pk=lost.pk).status
        )
        recovered_after = time.monotonic() - started
        time.sleep(2)  # more sweeps run: a completed task is never queued again
    row = AgentTask.objects.get(pk=lost.pk)
    assert (row.attempts, row.result) == (1, {"steps": 1})
    assert row.requeued_at is not None
    assert row.requeued_at >= row.created_at
    assert _counter(broker, key, "starts") == 1
    # Not before it is 3 s old; the worker and beat start within seconds of each other.
    assert row.started_at is not None
    assert (row.started_at - row.created_at).total_seconds() >= 3
    assert recovered_after < 45, recovered_after


def test_cancelling_a_running_task_stops_it_at_the_next_checkpoint(
    live_env: dict[str, str], broker: redis.Redis
) -> None:
    _slow_agent()
    _, cookies = _login("carol")
    key = f"cancel-{uuid.uuid4().hex}"
    with gunicorn(live_env, workers=1) as server, celery_worker(live_env), _http(server.url, cookies) as http:
        response = http.post(
            "/api/v1/tasks",
            json={
                "agent_id": "operations-900",
                "action": "test_slow_counter",
                "parameters": {"steps": 40, "step_seconds": 0.25, "counter_key": key},
            },
        )
        assert response.status_code == 202, response.text
        task_id = response.json()["id"]
        assert poll(lambda: http.get(f"/api/v1/tasks/{task_id}").json()["status"] == "running", timeout=30)
        cancel = http.post(f"/api/v1/tasks/{task_id}/cancel")
        assert cancel.status_code == 202
        assert cancel.json()["cancel_requested"] is True
        assert poll(lambda: http.get(f"/api/v1/tasks/{task_id}").json()["status"] == "cancelled", timeout=10)
    row = AgentTask.objects.get(pk=task_id)
    assert row.progress < 100
    assert row.result is None
    assert _counter(broker, key, "completions") == 0


# --- WebSocket protocol on a real server with the Redis channel layer ---------------------
@pytest.fixture
def ws_server(live_env: dict[str, str]) -> Iterator[Any]:
    with gunicorn(live_env, workers=1) as server:
        yield server


def test_unknown_channel_closes_4004_and_anonymous_closes_4401(ws_server: Any) -> None:
    _, cookies = _login("dave")
    with _ws(ws_server.url, "nonsense", cookies) as ws:
        with pytest.raises(ConnectionClosed) as closed:
            ws.recv(timeout=5)
        assert closed.value.rcvd is not None
        assert closed.value.rcvd.code == 4004
    with _ws(ws_server.url, "agents", None) as ws:
        with pytest.raises(ConnectionClosed) as closed:
            ws.recv(timeout=5)
        assert closed.value.rcvd is not None
        assert closed.value.rcvd.code == 4401


def _publish_agent(slug: str, status: str) -> int:
    seq = deliver(
        "agents", "agent_status_update", {"agent_id": slug, "status": status, "data": {}}, slug, "", None, True
    )
    assert seq is not None
    return seq


def _publish_task(task_id: str, owner_id: int, status: str) -> int:
    payload = {"task_id": task_id, "agent_id": "analytics-901", "status": status, "progress": 0, "data": {}}
    seq = deliver("tasks", "task_update", payload, "analytics-901", task_id, owner_id, True)
    assert seq is not None
    return seq


def test_ping_pong_and_subscribe_filters_events(ws_server: Any) -> None:
    _, cookies = _login("erin")
    Agent.objects.create(slug="analytics-901", type="t", name="A", category="analytics")
    Agent.objects.create(slug="analytics-902", type="t", name="B", category="analytics")
    with _ws(ws_server.url, "agents", cookies) as ws:
        assert _recv(ws)["type"] == "connected"
        ws.send(json.dumps({"type": "ping"}))
        pong = _recv(ws)
        assert pong["type"] == "pong"
        assert pong["timestamp"].endswith("Z")
        ws.send(json.dumps({"type": "subscribe", "agent_id": "analytics-902"}))
        subscribed = _recv(ws)
        assert subscribed["type"] == "subscribed"
        assert subscribed["agent_ids"] == ["analytics-902"]
        ws.send(json.dumps({"type": "subscribe", "agent_id": "no-such-agent"}))
        assert _recv(ws)["code"] == "not_found"

        _publish_agent("analytics-901", "running")
        wanted = _publish_agent("analytics-902", "running")
        _publish_agent("analytics-901", "idle")
        event = _recv(ws)
        assert event["type"] == "agent_status_update"
        assert (event["agent_id"], event["seq"]) == ("analytics-902", wanted)
        assert _no_more(ws) == []


def test_subscribing_to_another_users_task_is_refused(ws_server: Any) -> None:
    owner, _ = _login("frank")
    _, cookies = _login("grace")
    agent = Agent.objects.create(
        slug="analytics-901", type="t", name="A", category="analytics", tools=["sales_summary"]
    )
    theirs = AgentTask.objects.create(agent=agent, action="sales_summary", requested_by=owner)
    with _ws(ws_server.url, "tasks", cookies) as ws:
        assert _recv(ws)["type"] == "connected"
        ws.send(json.dumps({"type": "subscribe", "task_id": str(theirs.pk)}))
        refused = _recv(ws)
        assert refused["type"] == "error"
        assert refused["code"] == "not_found"
        # Unsubscribed and not the owner: their task's events never arrive either.
        _publish_task(str(theirs.pk), owner.pk, "running")
        assert _no_more(ws) == []


def test_resume_delivers_exactly_the_missed_visible_events_once_in_order(ws_server: Any) -> None:
    me, cookies = _login("heidi")
    someone, _ = _login("ivan")
    mine, theirs = str(uuid.uuid4()), str(uuid.uuid4())
    with _ws(ws_server.url, "tasks", cookies) as ws:
        start = _recv(ws)["seq"]
        first = _publish_task(mine, me.pk, "pending")
        assert _recv(ws)["seq"] == first
    # Disconnected: these are missed (one belongs to someone else, one is on another channel).
    missed = [_publish_task(mine, me.pk, "running")]
    _publish_task(theirs, someone.pk, "running")
    _publish_agent("analytics-901", "running")
    missed.append(_publish_task(mine, me.pk, "completed"))
    assert missed[0] > first > start
    with _ws(ws_server.url, "tasks", cookies) as ws:
        assert _recv(ws)["type"] == "connected"
        ws.send(json.dumps({"type": "resume", "after": first}))
        replay = _recv_until(ws, lambda m: m["type"] == "resumed")
        assert [m["seq"] for m in replay if m["type"] == "task_update"] == missed
        assert [m["status"] for m in replay if m["type"] == "task_update"] == ["running", "completed"]
        live = _publish_task(mine, me.pk, "completed")
        after = _recv(ws)
        assert after["seq"] == live
        # Resuming again from the start repeats nothing already sent on this socket.
        ws.send(json.dumps({"type": "resume", "after": start}))
        again = _recv_until(ws, lambda m: m["type"] == "resumed")
        assert [m for m in again if m["type"] == "task_update"] == []
        assert _no_more(ws) == []


def test_metrics_channel_sends_real_figures_periodically(ws_server: Any) -> None:
    _, cookies = _login("judy")
    agent = Agent.objects.create(slug="analytics-901", type="t", name="A", category="analytics")
    AgentTask.objects.create(agent=agent, action="sales_summary", status=TaskStatus.RUNNING)
    with _ws(ws_server.url, "metrics", cookies) as ws:
        assert _recv(ws)["type"] == "connected"
        first = _recv(ws)
        assert first["type"] == "metrics_update"
        assert first["data"]["running_tasks"] == 1
        AgentTask.objects.create(agent=agent, action="sales_summary", status=TaskStatus.RUNNING)
        periodic = _recv_until(
            ws, lambda m: m["type"] == "metrics_update" and m["data"]["running_tasks"] == 2, timeout=10
        )
        assert periodic[-1]["data"]["tasks"]["running"] == 2
        assert "seq" not in periodic[-1]
