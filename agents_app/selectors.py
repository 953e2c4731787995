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
    """Totals for /health: agents in the database, enabled and not disabled/error."""
    totals = Agent.objects.aggregate(
        total=Count("id"),
        active=Count("id", filter=Q(enabled=True) & ~Q(status__in=[AgentStatus.DISABLED, AgentStatus.ERROR])),
    )
    categories = sorted(set(Agent.objects.values_list("category", flat=True).distinct()))
    return {"total": totals["total"], "active": totals["active"], "categories": categories}
