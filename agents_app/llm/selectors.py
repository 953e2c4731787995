"""Reads of the LLM gateway's data: spend, budgets, Round Tables."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Any, TypedDict

from django.db.models import Avg, Count, Q, QuerySet, Sum
from django.db.models.functions import Coalesce

from agents_app.llm.budget import PLATFORM_BUDGET, limit_for, today
from agents_app.llm.models import DailyBudget, RoundTable, RoundTableEntry, SpendLedgerEntry

_ZERO = Decimal("0")
_LEDGER_QUANTUM = Decimal("0.00000001")


def _usd(value: Decimal | int | float) -> Decimal:
    """Sums as the ledger stores amounts (8 places; SQLite sums come back wider)."""
    return Decimal(value).quantize(_LEDGER_QUANTUM)


class SpendTotals(TypedDict):
    calls: int
    failed_calls: int
    amount_usd: Decimal
    prompt_tokens: int
    completion_tokens: int


class BudgetStatus(TypedDict):
    agent: str
    day: str
    limit_usd: Decimal
    spent_usd: Decimal
    reserved_usd: Decimal
    remaining_usd: Decimal


def spend_totals(*, task_id: str | None = None, agent_slug: str | None = None, kind: str | None = None) -> SpendTotals:
    """Sums over the ledger for a task and/or agent, in one query (e.g. a task's tokens and cost)."""
    rows = SpendLedgerEntry.objects.all()
    if task_id is not None:
        rows = rows.filter(task_id=str(task_id))
    if agent_slug is not None:
        rows = rows.filter(agent_slug=agent_slug)
    if kind is not None:
        rows = rows.filter(kind=kind)
    totals = rows.aggregate(
        calls=Count("id"),
        failed_calls=Count("id", filter=Q(outcome="error")),
        amount_usd=Coalesce(Sum("amount"), _ZERO),
        prompt_tokens=Coalesce(Sum("prompt_tokens"), 0),
        completion_tokens=Coalesce(Sum("completion_tokens"), 0),
    )
    return {
        "calls": totals["calls"],
        "failed_calls": totals["failed_calls"],
        "amount_usd": Decimal(totals["amount_usd"]),
        "prompt_tokens": totals["prompt_tokens"],
        "completion_tokens": totals["completion_tokens"],
    }


def budget_status(agent_slug: str, day: dt.date | None = None) -> BudgetStatus:
    """An agent's budget for a UTC day (today by default), even before its first call."""
    slug = agent_slug or PLATFORM_BUDGET
    day = day or today()
    row = DailyBudget.objects.filter(agent_slug=slug, day=day).first()
    limit = row.limit_usd if row else limit_for(slug)
    spent = row.spent_usd if row else _ZERO
    reserved = row.reserved_usd if row else _ZERO
    return {
        "agent": slug,
        "day": day.isoformat(),
        "limit_usd": limit,
        "spent_usd": spent,
        "reserved_usd": reserved,
        "remaining_usd": max(_ZERO, limit - spent - reserved),
    }


def round_table_detail(round_table_id: str) -> RoundTable:
    """A Round Table with its entries (ranked first) and winner, in two queries."""
    return RoundTable.objects.select_related("winner").prefetch_related("entries").get(pk=round_table_id)


def last_llm_call(*, task_id: str) -> tuple[str, str] | None:
    """(provider, model) of a task's last successful LLM call, from the ledger."""
    row = (
        SpendLedgerEntry.objects.filter(task_id=str(task_id), kind="llm", outcome="ok")
        .order_by("-created_at")
        .values_list("provider", "model")
        .first()
    )
    return None if row is None else (row[0], row[1])


def visible_round_tables(user: Any) -> QuerySet[RoundTable]:
    """Round Tables ``user`` may see: those of their own tasks; staff see all."""
    qs = RoundTable.objects.select_related("winner")
    if getattr(user, "is_staff", False) or getattr(user, "is_superuser", False):
        return qs
    return qs.filter(owner_id=user.pk)


def round_table_stats(tables: QuerySet[RoundTable]) -> dict[str, Any]:
    """Aggregates over ``tables`` in four queries: counts by status and verdict method,
    wins per provider, and per provider its entries, answers, average rubric score,
    average latency and cost. ``judge_cost_usd`` is what judging cost on top."""
    by_status = dict(tables.order_by().values_list("status").annotate(n=Count("id")))
    totals = tables.aggregate(cost=Coalesce(Sum("total_cost_usd"), _ZERO))
    methods = dict(tables.exclude(verdict_method="").order_by().values_list("verdict_method").annotate(n=Count("id")))
    wins = dict(tables.filter(winner__isnull=False).order_by().values_list("winner__provider").annotate(n=Count("id")))
    entries = (
        RoundTableEntry.objects.filter(round_table__in=tables)
        .order_by()
        .values("provider")
        .annotate(
            entries=Count("id"),
            answered=Count("id", filter=Q(status="ok")),
            avg_score=Avg("score"),
            avg_latency_ms=Avg("latency_ms", filter=Q(status="ok")),
            cost_usd=Coalesce(Sum("cost_usd"), _ZERO),
        )
        .order_by("provider")
    )
    providers = []
    entry_cost = _ZERO
    for row in entries:
        entry_cost += row["cost_usd"]
        providers.append(
            {
                "provider": row["provider"],
                "entries": row["entries"],
                "answered": row["answered"],
                "wins": wins.get(row["provider"], 0),
                "win_rate": round(100 * wins.get(row["provider"], 0) / row["entries"], 1) if row["entries"] else None,
                "avg_score": None if row["avg_score"] is None else round(float(row["avg_score"]), 2),
                "avg_latency_ms": None if row["avg_latency_ms"] is None else round(float(row["avg_latency_ms"]), 1),
                "cost_usd": str(_usd(row["cost_usd"])),
            }
        )
    total_cost = _usd(totals["cost"])
    return {
        "round_tables": sum(by_status.values()),
        "by_status": by_status,
        "verdict_methods": methods,
        "wins": wins,
        "providers": providers,
        "total_cost_usd": str(total_cost),
        "judge_cost_usd": str(max(_ZERO, total_cost - _usd(entry_cost))),
    }


def spend_by_provider(*, since: dt.datetime, until: dt.datetime | None = None) -> list[dict[str, Any]]:
    """LLM spend per provider in ``[since, until)`` from the ledger, one query."""
    rows = SpendLedgerEntry.objects.filter(kind="llm", created_at__gte=since)
    if until is not None:
        rows = rows.filter(created_at__lt=until)
    grouped = (
        rows.order_by()
        .values("provider")
        .annotate(
            calls=Count("id"),
            failed_calls=Count("id", filter=Q(outcome="error")),
            amount_usd=Coalesce(Sum("amount"), _ZERO),
            prompt_tokens=Coalesce(Sum("prompt_tokens"), 0),
            completion_tokens=Coalesce(Sum("completion_tokens"), 0),
            avg_latency_ms=Avg("latency_ms", filter=Q(outcome="ok")),
        )
        .order_by("provider")
    )
    return [
        {
            "provider": row["provider"],
            "calls": row["calls"],
            "failed_calls": row["failed_calls"],
            "amount_usd": str(_usd(row["amount_usd"])),
            "prompt_tokens": row["prompt_tokens"],
            "completion_tokens": row["completion_tokens"],
            "avg_latency_ms": None if row["avg_latency_ms"] is None else round(float(row["avg_latency_ms"]), 1),
        }
        for row in grouped
    ]


def provider_overview() -> list[dict[str, Any]]:
    """Every enabled provider in routing-priority order with its circuit breaker state
    (shared across processes) and its measured average latency (None before its first
    call). No key or URL is included."""
    from agents_app.llm.breaker import ProviderBreaker
    from agents_app.llm.pricing import price_for
    from agents_app.llm.routing import average_latency, enabled_providers

    overview = []
    for config in enabled_providers():
        price = price_for(config.name, config.default_model)
        latency = average_latency(config.name)
        overview.append(
            {
                "provider": config.name,
                "default_model": config.default_model,
                "priority": config.priority,
                "source": config.source,
                "circuit": ProviderBreaker(config.name).status(),
                "avg_latency_ms": None if latency is None else round(latency, 1),
                "price_per_million_usd": {
                    "input": str(price.input_per_million),
                    "output": str(price.output_per_million),
                },
            }
        )
    return overview
