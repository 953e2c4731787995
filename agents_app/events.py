"""The agents app's WebSocket events (payloads documented here, sent via devskyy.core.events).

``task_update`` on channel ``tasks``::

    {"type": "task_update", "seq", "timestamp", "task_id", "agent_id", "status",
     "progress", "data": {"action", "error"?, "error_code"?, "duration_ms"?, "attempt"}}

visible to the requesting user and staff.

``agent_status_update`` on channel ``agents``::

    {"type": "agent_status_update", "seq", "timestamp", "agent_id", "status",
     "data": {"reason", "running_tasks"?, "task_id"?}}

visible to every authenticated user.

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

from typing import Any

from agents_app.models import Agent, AgentTask
from devskyy.core.events import publish


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
