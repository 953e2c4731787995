"""Reads of the agent registry."""

from __future__ import annotations

from typing import TypedDict

from django.db.models import Count, Q

from agents_app.models import Agent, AgentStatus


class AgentCounts(TypedDict):
    total: int
    active: int
    categories: list[str]


def agent_counts() -> AgentCounts:
    """Totals for /health in one query: all agents, active ones (enabled and not
    disabled or in error), and the categories present."""
    rows = (
        Agent.objects.order_by()
        .values("category")
        .annotate(
            total=Count("id"),
            active=Count("id", filter=Q(enabled=True) & ~Q(status__in=[AgentStatus.DISABLED, AgentStatus.ERROR])),
        )
    )
    total = active = 0
    categories: list[str] = []
    for row in rows:
        total += row["total"]
        active += row["active"]
        categories.append(row["category"])
    return {"total": total, "active": active, "categories": sorted(categories)}
