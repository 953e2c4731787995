"""Operations tools over the platform's own records (agent tasks)."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from django.db.models import Avg, Count, Q
from django.utils import timezone

from agents_app.models import AgentTask, TaskStatus
from agents_app.tools.base import ToolContext, register


@register(
    "task_queue_report",
    description="Agent tasks of the last hours: counts by status, failures by agent and action, mean run time.",
    category="operations",
    schema={"properties": {"hours": {"type": "integer", "minimum": 1, "maximum": 720}}},
)
def task_queue_report(ctx: ToolContext, params: dict[str, Any]) -> dict[str, Any]:
    hours = params.get("hours", 24)
    since = timezone.now() - timedelta(hours=hours)
    recent = AgentTask.objects.filter(created_at__gte=since)
    by_status = {row["status"]: row["n"] for row in recent.values("status").annotate(n=Count("id"))}
    failures = list(
        recent.filter(status=TaskStatus.FAILED)
        .values("agent__slug", "action", "error_code")
        .annotate(n=Count("id"))
        .order_by("-n", "agent__slug", "action")[:50]
    )
    timing = recent.aggregate(
        mean_ms=Avg("duration_ms", filter=Q(status=TaskStatus.COMPLETED)),
        completed=Count("id", filter=Q(status=TaskStatus.COMPLETED)),
        failed=Count("id", filter=Q(status=TaskStatus.FAILED)),
    )
    finished = timing["completed"] + timing["failed"]
    return {
        "hours": hours,
        "by_status": {status: by_status.get(status, 0) for status in TaskStatus.values},
        "failures": [
            {"agent": f["agent__slug"], "action": f["action"], "error_code": f["error_code"], "count": f["n"]}
            for f in failures
        ],
        "success_rate_pct": round(100 * timing["completed"] / finished, 1) if finished else None,
        "mean_duration_ms": round(timing["mean_ms"], 1) if timing["mean_ms"] is not None else None,
    }
