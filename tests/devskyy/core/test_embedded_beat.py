"""Embedded mode's beat: the schedule run in the server process (devskyy/core/embedded_beat.py)."""

from __future__ import annotations

import time
from datetime import timedelta

import pytest
from django.test import override_settings
from django.utils import timezone

from agents_app.models import Agent, AgentTask, TaskStatus
from devskyy.core import embedded_beat
from tests.support.servers import poll

SCHEDULE = {"a": {"task": "t.a", "schedule": 1.0}, "b": {"task": "t.b", "schedule": 3.0}}


def test_each_entry_first_runs_one_interval_after_start_then_every_interval() -> None:
    next_at: dict[str, float] = {}
    assert embedded_beat.due(SCHEDULE, next_at, 100.0) == []
    assert embedded_beat.due(SCHEDULE, next_at, 100.9) == []
    assert embedded_beat.due(SCHEDULE, next_at, 101.0) == ["a"]
    assert embedded_beat.due(SCHEDULE, next_at, 103.0) == ["a", "b"]
    assert next_at == {"a": 104.0, "b": 106.0}


def test_it_starts_only_in_embedded_mode_when_asked_and_once() -> None:
    with override_settings(EMBEDDED_BEAT=False):
        assert embedded_beat.start() is None
    with override_settings(EMBEDDED_BEAT=True, TASKS_EMBEDDED=False):
        assert embedded_beat.start() is None
    with override_settings(EMBEDDED_BEAT=True, CELERY_BEAT_SCHEDULE={}):
        assert embedded_beat.start() is None


@pytest.mark.django_db(transaction=True)
def test_a_task_lost_with_the_last_server_process_is_run_by_the_embedded_beat() -> None:
    agent = Agent.objects.create(
        slug="commerce-901", type="t", name="T", category="commerce", tools=["low_stock_report"]
    )
    # Pending since before this process started: its place in the old pool went with it.
    lost = AgentTask.objects.create(
        agent=agent, action="low_stock_report", created_at=timezone.now() - timedelta(seconds=5)
    )
    schedule = {"requeue-lost-tasks": {"task": "agents_app.tasks.requeue_lost_tasks", "schedule": 0.2}}
    with override_settings(EMBEDDED_BEAT=True, CELERY_BEAT_SCHEDULE=schedule, TASK_REQUEUE_PENDING_SECONDS=1):
        stopping = embedded_beat.start()
        try:
            assert stopping is not None
            assert embedded_beat.start() is None  # once per process
            assert poll(lambda: AgentTask.objects.get(pk=lost.pk).status == TaskStatus.COMPLETED, timeout=20)
            time.sleep(0.5)  # more sweeps run: a completed task is never queued again
        finally:
            embedded_beat.stop()
    lost.refresh_from_db()
    assert lost.attempts == 1
    assert lost.requeued_at is not None
    assert lost.result is not None
    assert lost.result["count"] == 0
