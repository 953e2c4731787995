"""Reads of the LLM gateway's data: spend, budgets, Round Tables."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import TypedDict

from django.db.models import Count, Q, Sum
from django.db.models.functions import Coalesce

from agents_app.llm.budget import PLATFORM_BUDGET, limit_for, today
from agents_app.llm.models import DailyBudget, RoundTable, SpendLedgerEntry

_ZERO = Decimal("0")


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
