"""The agents app's WebSocket events (payloads documented here, sent via devskyy.core.events).

``task_update`` on channel ``tasks``::

    {"type": "task_update", "seq", "timestamp", "task_id", "agent_id", "status",
     "progress", "data": {"action", "error"?, "error_code"?, "duration_ms"?, "attempt"}}

visible to the requesting user and staff.

``agent_status_update`` on channel ``agents``::

    {"type": "agent_status_update", "seq", "timestamp", "agent_id", "status",
     "data": {"reason", "running_tasks"?, "task_id"?}}

visible to every authenticated user.
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
