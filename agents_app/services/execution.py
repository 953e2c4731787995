"""Running a task on a worker: claim, run the tool with checkpoints, finish exactly once.

Exactly-once completion rests on two conditional UPDATEs:

* claim: ``pending -> running`` (not cancel-requested), or ``running`` whose lease
  expired (its worker died) -> ``running`` again; each claim increments ``attempts``
  and sets a lease of TASK_LEASE_SECONDS, renewed at every checkpoint.
* finish: ``running`` *and* ``attempts == <our attempt>`` -> final status. An attempt
  that lost its lease can no longer finish (or checkpoint), so at most one attempt
  ever completes a task, however often the queue delivers it.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from celery.exceptions import SoftTimeLimitExceeded
from django.conf import settings
from django.db.models import F, Q
from django.utils import timezone

from agents_app.agent_list import agents_list_changed
from agents_app.events import publish_agent_status, publish_task_update
from agents_app.exceptions import LeaseLost, TaskCancelled
from agents_app.models import AgentTask, TaskStatus
from agents_app.tools.base import get_tool, validate_input
from agents_app.tools.integrations import check_requirements
from devskyy.core.errors import DomainError
from devskyy.core.events import json_safe
from devskyy.core.metrics import AGENT_TASK_DURATION, AGENT_TASKS

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class RunOutcome:
    """What a delivery of the task did. ``retry_after``: another attempt holds a live lease."""

    outcome: str  # completed | failed | cancelled | already_final | missing | busy | lease_lost
    retry_after: float | None = None


def _lease_until() -> Any:
    return timezone.now() + timedelta(seconds=settings.TASK_LEASE_SECONDS)


def task_claim(*, task_id: str, worker: str) -> tuple[AgentTask | None, RunOutcome | None]:
    """Claim the task for this attempt; returns (task, None) or (None, why not)."""
    now = timezone.now()
    claimable = Q(status=TaskStatus.PENDING, cancel_requested=False) | Q(
        status=TaskStatus.RUNNING, lease_expires_at__lt=now
    )
    claimed = (
        AgentTask.objects.filter(pk=task_id)
        .filter(claimable)
        .update(
            status=TaskStatus.RUNNING,
            attempts=F("attempts") + 1,
            started_at=now,
            progress=0,
            lease_expires_at=_lease_until(),
            worker=worker[:200],
        )
    )
    task = AgentTask.objects.select_related("agent").filter(pk=task_id).first()
    if task is None:
        return None, RunOutcome("missing")
    if claimed:
        agents_list_changed()  # tasksRunning
        return task, None
    if task.status == TaskStatus.PENDING and task.cancel_requested:
        _finish(task, TaskStatus.CANCELLED, {})
        return None, RunOutcome("cancelled")
    if task.status == TaskStatus.RUNNING and task.lease_expires_at is not None:
        return None, RunOutcome("busy", retry_after=max(0.5, (task.lease_expires_at - now).total_seconds() + 0.5))
    return None, RunOutcome("already_final")


class TaskContext:
    """Passed to tools: ``checkpoint(progress)`` renews the lease and honours cancellation."""

    def __init__(self, task: AgentTask) -> None:
        self.task = task
        self.task_id: str | None = str(task.id)
        self.agent_slug = task.agent.slug
        self.attempt = task.attempts
        self._last_progress = task.progress

    def checkpoint(self, progress: int) -> None:
        progress = max(0, min(100, int(progress)))
        row = AgentTask.objects.filter(pk=self.task.pk).values("status", "attempts", "cancel_requested").first()
        if row is None or row["status"] != TaskStatus.RUNNING or row["attempts"] != self.attempt:
            raise LeaseLost(str(self.task.pk))
        if row["cancel_requested"]:
            raise TaskCancelled(str(self.task.pk))
        updated = AgentTask.objects.filter(pk=self.task.pk, status=TaskStatus.RUNNING, attempts=self.attempt).update(
            progress=progress, lease_expires_at=_lease_until()
        )
        if not updated:
            raise LeaseLost(str(self.task.pk))
        if progress != self._last_progress:
            self._last_progress = progress
            self.task.progress = progress
            publish_task_update(self.task, agent_slug=self.agent_slug)


def _finish(task: AgentTask, status: str, fields: dict[str, Any]) -> bool:
    """Move the task to a final status if this attempt still owns it; publish; count."""
    now = timezone.now()
    duration_ms = int((now - task.started_at).total_seconds() * 1000) if task.started_at else None
    owned = Q(status=TaskStatus.RUNNING, attempts=task.attempts)
    if status == TaskStatus.CANCELLED:
        owned |= Q(status=TaskStatus.PENDING, cancel_requested=True)
    updated = (
        AgentTask.objects.filter(pk=task.pk)
        .filter(owned)
        .update(status=status, finished_at=now, duration_ms=duration_ms, lease_expires_at=None, **fields)
    )
    if not updated:
        return False
    agents_list_changed()  # counts, latency, cost
    task.refresh_from_db()
    publish_task_update(task, agent_slug=task.agent.slug)
    running = AgentTask.objects.filter(agent_id=task.agent_id, status=TaskStatus.RUNNING).count()
    publish_agent_status(
        task.agent,
        reason="task_finished",
        status="running" if running else task.agent.status,
        running_tasks=running,
        task_id=str(task.id),
    )
    AGENT_TASKS.labels(category=task.agent.category, status=status).inc()
    if duration_ms is not None and status == TaskStatus.COMPLETED:
        AGENT_TASK_DURATION.labels(category=task.agent.category).observe(duration_ms / 1000)
    return True


def task_execute(*, task_id: str, worker: str) -> RunOutcome:
    """One delivery of a task: claim it, run its tool, record the outcome."""
    task, refused = task_claim(task_id=task_id, worker=worker)
    if task is None or refused is not None:
        refused = refused or RunOutcome("missing")
        logger.info("task %s not run: %s", task_id, refused.outcome)
        return refused
    publish_task_update(task, agent_slug=task.agent.slug)
    running = AgentTask.objects.filter(agent_id=task.agent_id, status=TaskStatus.RUNNING).count()
    publish_agent_status(task.agent, reason="task_started", status="running", running_tasks=running, task_id=task_id)
    context = TaskContext(task)
    started = time.monotonic()
    try:
        tool = get_tool(task.action)
        check_requirements(tool.requires)
        params = validate_input(tool, task.parameters)
        result = tool.fn(context, params)
    except TaskCancelled:
        _finish(task, TaskStatus.CANCELLED, {})
        return RunOutcome("cancelled")
    except LeaseLost:
        logger.warning("task %s attempt %s lost its lease; another attempt owns it", task_id, task.attempts)
        return RunOutcome("lease_lost")
    except DomainError as exc:
        _finish(task, TaskStatus.FAILED, {"error": exc.message, "error_code": exc.code})
        return RunOutcome("failed")
    except SoftTimeLimitExceeded:
        _finish(task, TaskStatus.FAILED, {"error": "time limit exceeded", "error_code": "time_limit"})
        return RunOutcome("failed")
    except Exception as exc:  # noqa: BLE001 - a tool bug fails its task; the worker carries on
        logger.exception("task %s: tool %s raised", task_id, task.action)
        _finish(task, TaskStatus.FAILED, {"error": f"internal error ({type(exc).__name__})", "error_code": "internal"})
        return RunOutcome("failed")
    elapsed = time.monotonic() - started
    if not _finish(task, TaskStatus.COMPLETED, {"result": json_safe(result), "progress": 100}):
        logger.warning(
            "task %s finished after %.1fs but attempt %s no longer owned it", task_id, elapsed, task.attempts
        )
        return RunOutcome("lease_lost")
    return RunOutcome("completed")


def tasks_requeue_stale(*, pending_older_than: timedelta) -> int:
    """Queue again tasks whose message may be lost: old pending ones and expired leases.

    Safe to run any time: a duplicate delivery cannot double-run a task (claim is
    conditional). Returns how many were queued.
    """
    from agents_app.tasks import run_agent_task
    from devskyy.core.background import dispatch_now

    now = timezone.now()
    stale = AgentTask.objects.filter(
        Q(status=TaskStatus.PENDING, created_at__lt=now - pending_older_than, cancel_requested=False)
        | Q(status=TaskStatus.RUNNING, lease_expires_at__lt=now)
    ).values_list("id", flat=True)
    ids = [str(task_id) for task_id in stale]
    for task_id in ids:
        dispatch_now(run_agent_task, task_id)
    return len(ids)
