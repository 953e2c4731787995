"""Task execution: conditional claim, leases, checkpoints and exactly-once finish."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from django.utils import timezone

from agents_app.exceptions import LeaseLost, TaskCancelled
from agents_app.models import Agent, AgentTask, TaskStatus
from agents_app.services.execution import TaskContext, _finish, task_claim, task_execute
from agents_app.services.tasks import task_cancel
from agents_app.tools.base import register
from devskyy.feed.models import FeedEvent

pytestmark = pytest.mark.django_db
_calls: list[str] = []


@register(
    "test_checkpointed",
    description="test: three checkpoints",
    category="operations",
    schema={"properties": {"cancel_at": {"type": "integer"}}},
)
def _checkpointed(ctx: Any, params: dict[str, Any]) -> dict[str, Any]:
    for step in (25, 50, 75):
        if params.get("cancel_at") == step:
            AgentTask.objects.filter(pk=ctx.task_id).update(cancel_requested=True)
        ctx.checkpoint(step)
        _calls.append(f"{ctx.task_id}:{step}")
    return {"done": True}


@pytest.fixture
def agent() -> Agent:
    return Agent.objects.create(
        slug="operations-900", type="t", name="T", category="operations", tools=["test_checkpointed"]
    )


def _task(agent: Agent, **kw: Any) -> AgentTask:
    return AgentTask.objects.create(agent=agent, action="test_checkpointed", **kw)


def test_a_task_runs_once_and_a_second_delivery_does_nothing(
    agent: Agent, django_capture_on_commit_callbacks, settings
) -> None:
    settings.TASK_PROGRESS_EVENT_SECONDS = 0  # every progress change is an event
    task = _task(agent)
    with django_capture_on_commit_callbacks(execute=True):
        assert task_execute(task_id=str(task.pk), worker="w1").outcome == "completed"
        assert task_execute(task_id=str(task.pk), worker="w2").outcome == "already_final"
    task.refresh_from_db()
    assert (task.status, task.progress, task.attempts, task.result) == (TaskStatus.COMPLETED, 100, 1, {"done": True})
    assert task.duration_ms is not None
    statuses = list(FeedEvent.objects.filter(task_id=str(task.pk)).values_list("payload__status", flat=True))
    assert statuses == ["running", "running", "running", "running", "completed"]


def test_progress_events_are_coalesced_but_the_row_keeps_every_checkpoint(
    agent: Agent, django_capture_on_commit_callbacks, settings
) -> None:
    settings.TASK_PROGRESS_EVENT_SECONDS = 3600
    task = _task(agent)
    with django_capture_on_commit_callbacks(execute=True):
        assert task_execute(task_id=str(task.pk), worker="w1").outcome == "completed"
    events = list(FeedEvent.objects.filter(task_id=str(task.pk)).order_by("seq").values_list("payload", flat=True))
    assert [(e["status"], e["progress"]) for e in events] == [("running", 0), ("completed", 100)]
    assert _calls[-3:] == [f"{task.pk}:25", f"{task.pk}:50", f"{task.pk}:75"]


def test_a_checkpoint_writes_progress_and_renews_the_lease(agent: Agent) -> None:
    task = _task(agent)
    claimed, _ = task_claim(task_id=str(task.pk), worker="w1")
    assert claimed is not None
    before = AgentTask.objects.get(pk=task.pk).lease_expires_at
    TaskContext(claimed).checkpoint(40)
    row = AgentTask.objects.get(pk=task.pk)
    assert row.progress == 40
    assert before is not None
    assert row.lease_expires_at is not None
    assert row.lease_expires_at >= before


def test_a_live_lease_is_not_claimed_twice(agent: Agent) -> None:
    task = _task(agent)
    claimed, _ = task_claim(task_id=str(task.pk), worker="w1")
    assert claimed is not None
    again, why = task_claim(task_id=str(task.pk), worker="w2")
    assert again is None
    assert why is not None
    assert why.outcome == "busy"
    assert why.retry_after is not None
    assert why.retry_after > 0


def test_an_expired_lease_is_claimed_again_and_the_old_attempt_cannot_finish(agent: Agent) -> None:
    task = _task(agent)
    first, _ = task_claim(task_id=str(task.pk), worker="w1")
    assert first is not None
    AgentTask.objects.filter(pk=task.pk).update(lease_expires_at=timezone.now() - timedelta(seconds=1))
    second, _ = task_claim(task_id=str(task.pk), worker="w2")
    assert second is not None
    assert second.attempts == 2
    with pytest.raises(LeaseLost):
        TaskContext(first).checkpoint(50)
    assert _finish(first, TaskStatus.COMPLETED, {"result": {"from": "w1"}}) is False
    assert _finish(second, TaskStatus.COMPLETED, {"result": {"from": "w2"}}) is True
    assert _finish(second, TaskStatus.COMPLETED, {"result": {"again": True}}) is False
    task.refresh_from_db()
    assert task.result == {"from": "w2"}


def test_cancel_requested_while_running_stops_at_the_next_checkpoint(agent: Agent) -> None:
    task = _task(agent, parameters={"cancel_at": 50})
    assert task_execute(task_id=str(task.pk), worker="w1").outcome == "cancelled"
    task.refresh_from_db()
    assert task.status == TaskStatus.CANCELLED
    assert task.progress == 25
    assert task.result is None
    assert f"{task.pk}:25" in _calls
    assert f"{task.pk}:50" not in _calls


def test_cancel_service_flags_a_running_task(agent: Agent) -> None:
    task = _task(agent)
    claimed, _ = task_claim(task_id=str(task.pk), worker="w1")
    assert claimed is not None
    flagged = task_cancel(task=claimed)
    assert (flagged.status, flagged.cancel_requested) == (TaskStatus.RUNNING, True)
    with pytest.raises(TaskCancelled):
        TaskContext(claimed).checkpoint(10)


def test_a_tool_error_fails_the_task_with_its_code(db) -> None:
    agent = Agent.objects.create(slug="commerce-900", type="t", name="T", category="commerce", tools=["product_lookup"])
    task = AgentTask.objects.create(agent=agent, action="product_lookup", parameters={"sku": "NOPE"})
    assert task_execute(task_id=str(task.pk), worker="w1").outcome == "failed"
    task.refresh_from_db()
    assert (task.status, task.error_code) == (TaskStatus.FAILED, "tool_error")
    assert "NOPE" in task.error


def test_only_a_workflow_steps_finish_advances_a_workflow(
    agent: Agent, django_capture_on_commit_callbacks, monkeypatch
) -> None:
    from agents_app.models import WorkflowRun, WorkflowStep
    from agents_app.services import workflows

    advanced: list[str] = []
    monkeypatch.setattr(workflows, "workflow_advance", lambda *, run_id: advanced.append(run_id))
    plain, stepped = _task(agent), _task(agent)
    run = WorkflowRun.objects.create(name="custom")
    WorkflowStep.objects.create(run=run, step_id="a", position=0, agent=agent, action="test_checkpointed", task=stepped)
    with django_capture_on_commit_callbacks(execute=True):
        assert task_execute(task_id=str(plain.pk), worker="w1").outcome == "completed"
        assert advanced == []
        assert task_execute(task_id=str(stepped.pk), worker="w1").outcome == "completed"
    assert advanced == [str(run.pk)]


@pytest.mark.django_db(transaction=True)
def test_a_finish_whose_answer_was_lost_is_recognised_as_ours_on_the_retry(agent: Agent) -> None:
    """The finish's UPDATE runs and commits, then the client sees an error instead of
    its answer (Django's execute_wrapper raises after the real statement). The retry
    matches the row by this attempt's own ``finished_at`` (in the database's own date
    format: SQLite stores text), so the outcome is announced. On PostgreSQL the same
    case is also driven through a TCP proxy (test_execution_postgres.py)."""
    from django.db import OperationalError, connection

    task = _task(agent)
    lost: list[str] = []

    def lose_the_finish_answer(execute: Any, sql: str, params: Any, many: bool, context: Any) -> Any:
        result = execute(sql, params, many, context)
        if '"finished_at" = ' in sql and not lost:
            lost.append(sql)
            raise OperationalError("server closed the connection unexpectedly (test)")
        return result

    with connection.execute_wrapper(lose_the_finish_answer):
        assert task_execute(task_id=str(task.pk), worker="w1").outcome == "completed"
    assert len(lost) == 1
    task.refresh_from_db()
    assert (task.status, task.attempts, task.progress) == (TaskStatus.COMPLETED, 1, 100)
    statuses = list(FeedEvent.objects.filter(task_id=str(task.pk)).values_list("payload__status", flat=True))
    assert statuses[0] == "running"
    assert statuses[-1] == "completed"
