"""Reads of the agent registry and agent tasks."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Any, TypedDict

from django.contrib.auth.models import AbstractBaseUser, AnonymousUser
from django.db import connections, router
from django.db.models import (
    Avg,
    Case,
    Count,
    DecimalField,
    F,
    FloatField,
    OuterRef,
    Q,
    QuerySet,
    Subquery,
    Sum,
    Value,
    When,
)
from django.db.models.functions import Cast, Coalesce

from agents_app.exceptions import TaskNotFoundError
from agents_app.integrations import integration_status
from agents_app.models import Agent, AgentStatus, AgentTask, TaskStatus
from agents_app.tools.base import registry
from devskyy.core.api_keys import key_owner


class AgentCounts(TypedDict):
    total: int
    active: int
    categories: list[str]


def _agent_counts_query() -> QuerySet[Agent, dict[str, Any]]:
    return (
        Agent.objects.order_by()
        .values("category")
        .annotate(
            total=Count("id"),
            active=Count("id", filter=Q(enabled=True) & ~Q(status__in=[AgentStatus.DISABLED, AgentStatus.ERROR])),
        )
    )


# The statement per database alias, compiled once per process: every /health probe
# runs it, and building and compiling the queryset took three times the CPU of running
# it (540 vs 185 us; PERF P2, bench/README.md). It has no per-call parameters.
_agent_counts_sql: dict[str, tuple[str, tuple[Any, ...]]] = {}


def agent_counts() -> AgentCounts:
    """Totals for /health in one query: all agents, active ones (enabled and not
    disabled or in error), and the categories present."""
    alias = router.db_for_read(Agent)
    compiled = _agent_counts_sql.get(alias)
    if compiled is None:
        sql, params = _agent_counts_query().query.get_compiler(using=alias).as_sql()
        compiled = _agent_counts_sql[alias] = (sql, tuple(params))
    with connections[alias].cursor() as cursor:
        cursor.execute(*compiled)
        rows = cursor.fetchall()
    total = active = 0
    categories: list[str] = []
    for category, category_total, category_active in rows:
        total += category_total
        active += category_active
        categories.append(category)
    return {"total": total, "active": active, "categories": sorted(categories)}


def agents_with_stats(*, slug: str | None = None) -> QuerySet[Agent]:
    """Agents annotated with their task statistics, in one query whose cost does not
    grow with the task history.

    ``stat_completed``/``stat_failed``: tasks in those states; ``stat_avg_ms``: mean run
    time of completed tasks; ``stat_cost``: cost of every task (all four from
    :class:`~agents_app.models.AgentTaskTotals`, kept by the database for every task
    row); ``stat_running``: tasks running now (counted live: few rows, indexed by
    agent and status).
    """
    running = (
        AgentTask.objects.filter(agent=OuterRef("pk"), status=TaskStatus.RUNNING)
        .order_by()
        .values("agent")
        .annotate(n=Count("pk"))
        .values("n")
    )
    qs = Agent.objects.annotate(
        stat_completed=Coalesce(F("task_totals__completed"), 0),
        stat_failed=Coalesce(F("task_totals__failed"), 0),
        stat_running=Coalesce(Subquery(running), 0),
        stat_avg_ms=Case(
            When(
                task_totals__completed_timed__gt=0,
                then=Cast(F("task_totals__completed_duration_ms"), FloatField())
                / Cast(F("task_totals__completed_timed"), FloatField()),
            ),
            default=None,
            output_field=FloatField(),
        ),
        stat_cost=Coalesce(F("task_totals__cost"), Value(Decimal("0")), output_field=DecimalField()),
    ).order_by("slug")
    if slug is not None:
        qs = qs.filter(slug=slug)
    return qs


def agent_stats(agent: Agent) -> dict[str, Any]:
    """The dashboard's ``stats`` object from an agent annotated by ``agents_with_stats``.

    ``successRate``: completed / (completed + failed), percent, null before any task
    finished. ``learningCycles`` is null: no feedback loop exists yet, and a number
    would be invented.
    """
    completed: int = agent.stat_completed  # type: ignore[attr-defined]
    failed: int = agent.stat_failed  # type: ignore[attr-defined]
    finished = completed + failed
    avg_ms = agent.stat_avg_ms  # type: ignore[attr-defined]
    cost: Decimal = agent.stat_cost  # type: ignore[attr-defined]
    return {
        "tasksCompleted": completed,
        "tasksFailed": failed,
        "tasksRunning": agent.stat_running,  # type: ignore[attr-defined]
        "successRate": round(100 * completed / finished, 1) if finished else None,
        "avgLatencyMs": round(float(avg_ms), 1) if avg_ms is not None else None,
        "totalCostUsd": str(cost.quantize(Decimal("0.000001"))),
        "learningCycles": None,
    }


def agent_effective_status(agent: Agent) -> str:
    """Stored state (disabled/error) wins; otherwise running while it has running tasks."""
    if not agent.enabled or agent.status == AgentStatus.DISABLED:
        return AgentStatus.DISABLED
    if agent.status == AgentStatus.ERROR:
        return AgentStatus.ERROR
    return AgentStatus.RUNNING if getattr(agent, "stat_running", 0) else AgentStatus.IDLE


def agent_requirements(agent: Agent, status: dict[str, bool] | None = None) -> dict[str, Any]:
    """Which integrations the agent's tools need and whether each is configured now."""
    status = status if status is not None else integration_status()
    tools = registry()
    needed: set[str] = set()
    for name in agent.tools:
        tool = tools.get(name)
        if tool is not None:
            needed |= tool.requires
    requirements = {name: status[name] for name in sorted(needed)}
    missing = [name for name, ok in requirements.items() if not ok]
    unknown = [name for name in agent.tools if name not in tools]
    detail: dict[str, Any] = {"ready": not missing and not unknown, "requirements": requirements, "missing": missing}
    if unknown:
        detail["unknown_tools"] = unknown
    return detail


def can_see_all_tasks(user: AbstractBaseUser | AnonymousUser) -> bool:
    return bool(getattr(user, "is_staff", False) or getattr(user, "is_superuser", False))


def visible_tasks(user: AbstractBaseUser | AnonymousUser) -> QuerySet[AgentTask]:
    """Tasks ``user`` may see: their own; staff see every task (object-level authorization)."""
    qs = AgentTask.objects.select_related("agent")
    if can_see_all_tasks(user):
        return qs
    key = key_owner(user)
    if key:
        return qs.filter(requested_by_key=key)
    return qs.filter(requested_by_id=user.pk) if user.pk is not None else qs.none()


def task_list(
    *,
    user: AbstractBaseUser | AnonymousUser,
    agent_slug: str | None = None,
    status: str | None = None,
    created_after: datetime | None = None,
    created_before: datetime | None = None,
) -> QuerySet[AgentTask]:
    qs = visible_tasks(user)
    if agent_slug:
        qs = qs.filter(agent__slug=agent_slug)
    if status:
        qs = qs.filter(status=status)
    if created_after:
        qs = qs.filter(created_at__gte=created_after)
    if created_before:
        qs = qs.filter(created_at__lt=created_before)
    return qs


def task_get_visible(*, user: AbstractBaseUser | AnonymousUser, task_id: str) -> AgentTask:
    """The task if it exists and ``user`` may see it; otherwise TaskNotFoundError (no existence leak)."""
    task = visible_tasks(user).filter(pk=task_id).first()
    if task is None:
        raise TaskNotFoundError("No such task.", details={"task_id": task_id})
    return task


def task_outcomes(*, since: datetime, until: datetime | None = None) -> dict[str, Any]:
    """Tasks that finished in ``[since, until)`` by final status, and tasks created then,
    in two queries. ``success_rate_pct`` = completed / (completed + failed), None when
    none finished (cancelled tasks are neither)."""
    finished = AgentTask.objects.filter(finished_at__gte=since)
    created = AgentTask.objects.filter(created_at__gte=since)
    if until is not None:
        finished = finished.filter(finished_at__lt=until)
        created = created.filter(created_at__lt=until)
    totals = finished.aggregate(
        completed=Count("id", filter=Q(status=TaskStatus.COMPLETED)),
        failed=Count("id", filter=Q(status=TaskStatus.FAILED)),
        cancelled=Count("id", filter=Q(status=TaskStatus.CANCELLED)),
        mean_ms=Avg("duration_ms", filter=Q(status=TaskStatus.COMPLETED)),
        cost=Coalesce(Sum("cost"), Value(Decimal("0"))),
        tokens=Coalesce(Sum("tokens"), Value(0)),
    )
    done = totals["completed"] + totals["failed"]
    return {
        "created": created.count(),
        "completed": totals["completed"],
        "failed": totals["failed"],
        "cancelled": totals["cancelled"],
        "success_rate_pct": round(100 * totals["completed"] / done, 2) if done else None,
        "mean_duration_ms": None if totals["mean_ms"] is None else round(float(totals["mean_ms"]), 1),
        "cost_usd": str(totals["cost"]),
        "tokens": totals["tokens"],
    }
