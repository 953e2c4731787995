"""Work created while the task queue's broker (Redis) cannot be reached.

A task's row is committed before its message is handed to the broker. If Redis is away
then, the API used to answer 500 after the commit: the client was told its request
failed although the task existed (a retry made a duplicate), and the task waited the
lost-message sweep's age (TASK_REQUEUE_PENDING_SECONDS, 5 minutes) before anything ran
it. Now the request answers 202 with the task pending, the failure is counted and the
row marked, and once Redis is back beat's sweep queues the task at its next run.

The test runs its own redis-server (stopped, then started again empty: no persistence,
the worst case), a production gunicorn, then a real Celery worker and beat. The sweep's
age is an hour here, so only the mark can explain a task run within the minute.
"""

from __future__ import annotations

import re
import time

import httpx
import pytest
import redis as redis_lib

from agents_app.media.models import MediaJob
from agents_app.models import Agent, AgentTask, TaskStatus
from devskyy.core.roles import Role
from tests.support.auth import access_token, make_user
from tests.support.servers import (
    Server,
    beat_only,
    black_hole,
    celery_beat,
    celery_worker,
    gunicorns,
    poll,
    redis_server,
)

pytestmark = [pytest.mark.services, pytest.mark.slow, pytest.mark.django_db(transaction=True)]

AGENT = "operations-960"
TASK = "agents_app.tasks.run_agent_task"


def _probe_agent() -> Agent:
    return Agent.objects.create(
        slug=AGENT, type="test", name="Broker outage probe", category="operations", tools=["task_queue_report"]
    )


def _failures(server: Server, task: str) -> float:
    text = httpx.get(f"{server.url}/metrics", timeout=10).text
    match = re.search(rf'^task_queue_send_failures_total\{{task="{re.escape(task)}"\}} (\S+)$', text, re.M)
    return float(match.group(1)) if match else 0.0


def test_a_task_created_while_the_broker_is_down_is_accepted_and_runs_once_it_is_back(
    server_env: dict[str, str],
) -> None:
    _probe_agent()
    auth = {"Authorization": f"Bearer {access_token(make_user(Role.OPERATOR))}"}
    with redis_server() as redis:
        env = {**server_env, "REDIS_URL": redis.url, "REDIS_BREAKER_SECONDS": "1"}
        with gunicorns([env], workers=1) as (server,):
            redis.stop()
            created, answered_in = _create(server, auth)
            assert created.status_code == 202, created.text
            assert created.json()["status"] == "pending"
            task = AgentTask.objects.get(pk=created.json()["id"])
            assert task.status == TaskStatus.PENDING
            assert task.enqueue_failed_at is not None
            assert AgentTask.objects.count() == 1
            assert _failures(server, TASK) == 1
            assert answered_in < 5, answered_in  # kombu's short publish retries, no long wait

            redis.start()  # back, and empty: the message was never there
            swept = {
                **env,
                **beat_only(TASK_REQUEUE_INTERVAL_SECONDS="1"),
                "TASK_REQUEUE_PENDING_SECONDS": "3600",  # the age path cannot fire
            }
            with celery_worker(swept), celery_beat(swept):
                back = time.monotonic()
                ran = poll(lambda: AgentTask.objects.get(pk=task.pk).status == TaskStatus.COMPLETED, timeout=60)
                assert ran, AgentTask.objects.get(pk=task.pk).status
                recovered_in = time.monotonic() - back
    task.refresh_from_db()
    assert task.attempts == 1
    assert task.enqueue_failed_at is None
    assert task.requeued_at is not None
    print(f"broker down: 202 in {answered_in:.2f} s; broker back: task completed {recovered_in:.1f} s later")  # noqa: T201


def _create(server: Server, auth: dict[str, str]) -> tuple[httpx.Response, float]:
    started = time.monotonic()
    response = httpx.post(
        f"{server.url}/api/v1/tasks",
        headers=auth,
        json={"agent_id": AGENT, "action": "task_queue_report", "parameters": {}},
        timeout=60,
    )
    return response, time.monotonic() - started


def test_a_hung_broker_costs_one_request_its_timeout_and_the_next_ones_fail_fast(server_env: dict[str, str]) -> None:
    """Redis accepts connections and never answers: the first send waits out the socket
    timeout (REDIS_SOCKET_TIMEOUT, 5 s); for REDIS_BREAKER_SECONDS after it, creates do
    not try the broker again, so they answer at once; every task is kept and marked."""
    _probe_agent()
    auth = {"Authorization": f"Bearer {access_token(make_user(Role.OPERATOR))}"}
    with black_hole() as port:
        env = {**server_env, "REDIS_URL": f"redis://127.0.0.1:{port}/0", "REDIS_BREAKER_SECONDS": "60"}
        with gunicorns([env], workers=1) as (server,):
            answers = [_create(server, auth) for _ in range(3)]
            assert [r.status_code for r, _ in answers] == [202, 202, 202], [r.text for r, _ in answers]
            assert _failures(server, TASK) == 3
    first, *later = (seconds for _, seconds in answers)
    assert max(later) < 2.0, (first, later)  # not another socket timeout each
    assert AgentTask.objects.filter(status=TaskStatus.PENDING, enqueue_failed_at__isnull=False).count() == 3
    print(f"hung broker: first create {first:.2f} s, then {', '.join(f'{s:.2f}' for s in later)} s")  # noqa: T201


def test_a_media_job_created_while_the_broker_is_down_is_accepted(server_env: dict[str, str]) -> None:
    """The job is kept and marked; the media sweep queues its first step at its next run
    (tests/agents_app/test_media_maintenance.py); here the request's answer, the mark and
    the count."""
    auth = {"Authorization": f"Bearer {access_token(make_user(Role.DEVELOPER))}"}
    with redis_server() as redis:
        env = {
            **server_env,
            "REDIS_URL": redis.url,
            "REDIS_BREAKER_SECONDS": "1",
            "ENABLE_3D_GENERATION": "true",
            "TRIPO_API_KEY": "tsk_unused",  # nothing reaches the provider: no worker runs
        }
        with gunicorns([env], workers=1) as (server,):
            redis.stop()
            created = httpx.post(
                f"{server.url}/api/v1/media/3d/generate/text",
                headers=auth,
                json={"prompt": "a linen shirt"},
                timeout=30,
            )
            assert created.status_code == 202, created.text
            job = MediaJob.objects.get(pk=created.json()["id"])
            assert job.enqueue_failed_at is not None
            assert _failures(server, "agents_app.media.advance_job") == 1


def test_pending_tasks_whose_messages_redis_lost_are_queued_again_at_once(server_env: dict[str, str]) -> None:
    """Redis restarts empty (no persistence) while a worker lives: every queued message is
    gone. The worker's heartbeat finds the mark it saw in Redis gone and has the sweep
    queue every pending task again, whatever its age. No beat runs here, and the sweep's
    age is an hour: only that detection can run these tasks."""
    from devskyy.taskqueue import BROKER_MARK_KEY

    agent = _probe_agent()
    with redis_server() as redis:
        env = {
            **server_env,
            "REDIS_URL": redis.url,
            "WORKER_HEARTBEAT_SECONDS": "1",
            "TASK_REQUEUE_PENDING_SECONDS": "3600",
        }
        with celery_worker(env):
            client = redis_lib.Redis.from_url(redis.url)
            assert poll(lambda: client.exists(BROKER_MARK_KEY), timeout=30), "the worker never marked Redis"
            time.sleep(1.5)  # a heartbeat after the mark: the worker has seen it
            # Pending tasks whose queued messages are about to vanish with Redis's data.
            stranded = [
                AgentTask.objects.create(agent=agent, action="task_queue_report", parameters={}).pk for _ in range(3)
            ]
            redis.stop()
            redis.start()  # same port, empty
            lost_at = time.monotonic()
            ran = poll(
                lambda: AgentTask.objects.filter(pk__in=stranded, status=TaskStatus.COMPLETED).count() == 3,
                timeout=60,
                interval=0.2,
            )
            statuses = list(AgentTask.objects.filter(pk__in=stranded).values_list("status", flat=True))
            assert ran, statuses
            recovered_in = time.monotonic() - lost_at
    assert set(AgentTask.objects.filter(pk__in=stranded).values_list("attempts", flat=True)) == {1}
    print(f"Redis emptied: 3 stranded tasks completed {recovered_in:.1f} s after it came back")  # noqa: T201
