"""The agents app's WebSocket events (payloads documented here, sent via devskyy.core.events).

``task_update`` on channel ``tasks``::

    {"type": "task_update", "seq", "timestamp", "task_id", "agent_id", "status",
     "progress", "data": {"action", "error"?, "error_code"?, "duration_ms"?, "attempt"}}

visible to the requesting user and staff.

``agent_status_update`` on channel ``agents``::

    {"type": "agent_status_update", "seq", "timestamp", "agent_id", "status",
     "data": {"reason", "running_tasks"?, "task_id"?}}

visible to every authenticated user. Task-driven updates (``task_started``,
``task_finished``) are throttled per agent and process: the first goes out at once,
later ones within AGENT_STATUS_EVENT_SECONDS are folded into one trailing update
sent when the interval ends, with the running count measured then. So an agent
busy with hundreds of tasks a second announces itself about once a second, not
twice per task (PERF P5: these events and their counts were a third of a task's
work, and every dashboard socket would receive them), and the last update always
states the final status.

``competition_update`` on channel ``round_table`` (one per Round Table stage)::

    {"type": "competition_update", "seq", "timestamp", "round_table_id", "stage",
     "task_id", "agent_id", "data": {...}}

``stage`` and ``data``: ``started`` {providers}; ``entry`` {provider, model, status,
latency_ms, cost_usd, error}; ``scored`` {scores: [{provider, score, rank}]};
``judging`` {judge_provider, candidates}; ``verdict`` {winner_provider,
verdict_method, reason, judge_error}. Visible to the task's requester and staff.

``workflow_update`` on channel ``tasks`` (a workflow run or one of its steps changed)::

    {"type": "workflow_update", "seq", "timestamp", "workflow_id", "workflow_name",
     "status", "data": {"step"?: {"id", "status", "task_id", "error_code"?}, "counts"}}

visible to the run's requester and staff.
"""

from __future__ import annotations

import logging
import threading
import time
from typing import Any

from django.conf import settings
from django.db import connection

from agents_app.models import Agent, AgentStatus, AgentTask, TaskStatus
from devskyy.core.events import publish

logger = logging.getLogger(__name__)


def publish_task_update(task: AgentTask, *, agent_slug: str, extra: dict[str, Any] | None = None) -> None:
    data: dict[str, Any] = {"action": task.action, "attempt": task.attempts}
    if task.error:
        data["error"] = task.error
        data["error_code"] = task.error_code
    if task.duration_ms is not None:
        data["duration_ms"] = task.duration_ms
    data.update(extra or {})
    publish(
        channel="tasks",
        event_type="task_update",
        payload={
            "task_id": str(task.id),
            "agent_id": agent_slug,
            "status": task.status,
            "progress": task.progress,
            "data": data,
        },
        agent_id=agent_slug,
        task_id=str(task.id),
        owner_id=task.requested_by_id,
    )


def publish_agent_status(agent: Agent, *, reason: str, status: str | None = None, **data: Any) -> None:
    publish(
        channel="agents",
        event_type="agent_status_update",
        payload={"agent_id": agent.slug, "status": status or agent.status, "data": {"reason": reason, **data}},
        agent_id=agent.slug,
    )


def publish_round_table_event(
    *, stage: str, payload: dict[str, Any], agent_slug: str, task_id: str, owner_id: int | None
) -> None:
    data = {k: v for k, v in payload.items() if k != "round_table_id"}
    publish(
        channel="round_table",
        event_type="competition_update",
        payload={
            "round_table_id": payload.get("round_table_id", ""),
            "stage": stage,
            "task_id": task_id,
            "agent_id": agent_slug,
            "data": data,
        },
        agent_id=agent_slug,
        task_id=task_id,
        owner_id=owner_id,
    )


def publish_workflow_update(
    *,
    workflow_id: str,
    workflow_name: str,
    status: str,
    owner_id: int | None,
    counts: dict[str, int],
    step: dict[str, Any] | None = None,
) -> None:
    data: dict[str, Any] = {"counts": counts}
    if step is not None:
        data["step"] = step
    publish(
        channel="tasks",
        event_type="workflow_update",
        payload={"workflow_id": workflow_id, "workflow_name": workflow_name, "status": status, "data": data},
        owner_id=owner_id,
    )


def _running_tasks(agent_id: int) -> int:
    return AgentTask.objects.filter(agent_id=agent_id, status=TaskStatus.RUNNING).count()


def _announce_load(agent: Agent, reason: str, task_id: str) -> None:
    running = _running_tasks(agent.pk)
    status = AgentStatus.RUNNING if running else agent.status
    publish_agent_status(agent, reason=reason, status=status, running_tasks=running, task_id=task_id)


class _AgentStatusThrottle:
    """Leading- and trailing-edge throttle of task-driven agent status updates."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._last: dict[int, float] = {}
        self._pending: set[int] = set()
        self._timers: list[threading.Timer] = []

    def reset(self) -> None:
        """Forget every agent and cancel pending trailing updates (tests)."""
        with self._lock:
            for timer in self._timers:
                timer.cancel()
            self._timers.clear()
            self._last.clear()
            self._pending.clear()

    def changed(self, agent: Agent, *, reason: str, task_id: str) -> None:
        interval = settings.AGENT_STATUS_EVENT_SECONDS
        if interval <= 0:
            _announce_load(agent, reason, task_id)
            return
        now = time.monotonic()
        with self._lock:
            if agent.pk in self._pending:
                return  # a trailing update is due and will measure the count then
            wait = self._last.get(agent.pk, float("-inf")) + interval - now
            if wait > 0:
                self._pending.add(agent.pk)
                timer = threading.Timer(wait, self._trailing, args=(agent.pk, reason, task_id))
                timer.daemon = True
                self._timers = [t for t in self._timers if t.is_alive()] + [timer]
                timer.start()
                return
            self._last[agent.pk] = now
        _announce_load(agent, reason, task_id)

    def _trailing(self, agent_pk: int, reason: str, task_id: str) -> None:
        with self._lock:
            self._pending.discard(agent_pk)
            self._last[agent_pk] = time.monotonic()
        try:
            agent = Agent.objects.filter(pk=agent_pk).first()
            if agent is not None:
                _announce_load(agent, reason, task_id)
        except Exception:  # noqa: BLE001 - a lost announcement; the API stays the truth
            logger.exception("trailing agent status update failed")
        finally:
            connection.close()  # this timer thread's own connection


_throttle = _AgentStatusThrottle()


def reset_throttle() -> None:
    _throttle.reset()


def agent_load_changed(agent: Agent, *, reason: str, task_id: str) -> None:
    """A task of ``agent`` started or finished: announce its status and running count
    (throttled, see the module docstring)."""
    _throttle.changed(agent, reason=reason, task_id=task_id)
