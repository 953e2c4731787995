"""Per-agent daily budgets, enforced before a paid call and atomic across workers.

Before a call the gateway reserves an upper bound of its cost with one conditional
UPDATE (``... SET reserved = reserved + x WHERE spent + reserved + x <= limit``).
PostgreSQL re-checks the WHERE clause against the latest committed row when two
workers race for it, so they cannot both take the last dollar. After the call the
reservation is settled to the actual cost; on failure it is released. Days are UTC.
Calls not made for an agent are charged to the ``platform`` budget.

Call the gateway outside a long transaction: a reservation made inside one holds the
row lock (and hides the reservation from other workers) until that transaction ends.
"""

from __future__ import annotations

import datetime as dt
import json
from dataclasses import dataclass
from decimal import Decimal

from django.conf import settings
from django.db import transaction
from django.db.models import DecimalField, F, Value
from django.db.models.functions import Greatest
from django.utils import timezone

from agents_app.llm.exceptions import BudgetExceeded
from agents_app.llm.models import AgentBudget, DailyBudget
from agents_app.llm.pricing import Price
from agents_app.llm.types import ProviderCall
from devskyy.core.errors import DomainError

PLATFORM_BUDGET = "platform"
_ZERO = Decimal("0")
# Per-message formatting tokens (role markers, separators) and the hidden system text
# providers add when tools are offered; generous so the bound holds.
_PER_MESSAGE_OVERHEAD = 16
_TOOLS_OVERHEAD = 1024


@dataclass(frozen=True)
class Reservation:
    budget_id: int | None  # None: nothing reserved (free call)
    agent_slug: str
    day: dt.date
    amount: Decimal


def today() -> dt.date:
    return timezone.now().astimezone(dt.UTC).date()


def prompt_token_bound(call: ProviderCall) -> int:
    """An upper bound on prompt tokens without a tokenizer: byte-level BPE and
    byte-fallback tokenizers never produce more tokens than UTF-8 bytes."""
    payload = json.dumps(
        [[m.as_dict() for m in call.messages], [t.as_dict() for t in call.tools]], ensure_ascii=False
    ).encode()
    overhead = _PER_MESSAGE_OVERHEAD * len(call.messages) + (_TOOLS_OVERHEAD if call.tools else 0)
    return len(payload) + overhead


def estimate_cost(call: ProviderCall, price: Price) -> Decimal:
    """Upper bound of what ``call`` can cost: bounded prompt plus ``max_tokens`` of output."""
    return price.cost(prompt_token_bound(call), call.max_tokens)


def limit_for(agent_slug: str) -> Decimal:
    override = AgentBudget.objects.filter(agent_slug=agent_slug).values_list("daily_limit_usd", flat=True).first()
    return override if override is not None else Decimal(settings.LLM_DAILY_BUDGET_USD)


def _money(value: Decimal) -> Value:
    return Value(value, output_field=DecimalField(max_digits=14, decimal_places=8))


def budget_reserve(*, agent_slug: str, amount: Decimal) -> Reservation:
    """Reserve ``amount`` USD of the agent's budget for today or raise BudgetExceeded."""
    slug = agent_slug or PLATFORM_BUDGET
    day = today()
    if amount <= _ZERO:
        return Reservation(None, slug, day, _ZERO)
    row, _ = DailyBudget.objects.get_or_create(agent_slug=slug, day=day, defaults={"limit_usd": limit_for(slug)})
    with transaction.atomic():
        admitted = DailyBudget.objects.filter(
            pk=row.pk, limit_usd__gte=F("spent_usd") + F("reserved_usd") + _money(amount)
        ).update(reserved_usd=F("reserved_usd") + _money(amount), updated_at=timezone.now())
    if not admitted:
        current = DailyBudget.objects.get(pk=row.pk)
        raise BudgetExceeded(
            agent_slug=slug,
            day=day.isoformat(),
            limit=current.limit_usd,
            committed=current.spent_usd + current.reserved_usd,
            needed=amount,
        )
    return Reservation(row.pk, slug, day, amount)


def budget_settle(*, reservation: Reservation, actual: Decimal) -> None:
    """Replace the reservation by the actual cost (which may exceed it if the bound
    was wrong: the spend is recorded as it happened)."""
    if reservation.budget_id is None:
        if actual > _ZERO:  # a call we thought free was billed: still count it
            row, _ = DailyBudget.objects.get_or_create(
                agent_slug=reservation.agent_slug,
                day=reservation.day,
                defaults={"limit_usd": limit_for(reservation.agent_slug)},
            )
            DailyBudget.objects.filter(pk=row.pk).update(spent_usd=F("spent_usd") + _money(actual))
        return
    DailyBudget.objects.filter(pk=reservation.budget_id).update(
        reserved_usd=Greatest(F("reserved_usd") - _money(reservation.amount), _money(_ZERO)),
        spent_usd=F("spent_usd") + _money(actual),
        updated_at=timezone.now(),
    )


def budget_release(*, reservation: Reservation) -> None:
    if reservation.budget_id is None:
        return
    DailyBudget.objects.filter(pk=reservation.budget_id).update(
        reserved_usd=Greatest(F("reserved_usd") - _money(reservation.amount), _money(_ZERO)),
        updated_at=timezone.now(),
    )


def agent_budget_set(*, agent_slug: str, daily_limit_usd: Decimal) -> AgentBudget:
    """Set an agent's daily limit; today's budget row follows at once."""
    if daily_limit_usd < _ZERO:
        raise DomainError("A daily limit must be zero or more.", code="invalid_budget")
    with transaction.atomic():
        budget, _ = AgentBudget.objects.update_or_create(
            agent_slug=agent_slug, defaults={"daily_limit_usd": daily_limit_usd}
        )
        DailyBudget.objects.filter(agent_slug=agent_slug, day=today()).update(limit_usd=daily_limit_usd)
    return budget


def daily_budget_limit_set(*, budget_id: int, limit_usd: Decimal, actor: object = None) -> DailyBudget:
    """Change one day's limit of one agent (the admin's edit); audited. Spend and
    reservations are left as they are, so a lowered limit refuses the next call."""
    from devskyy.core.audit import audit_record

    if limit_usd < _ZERO:
        raise DomainError("A daily limit must be zero or more.", code="invalid_budget")
    with transaction.atomic():
        budget = DailyBudget.objects.select_for_update().get(pk=budget_id)
        previous = budget.limit_usd
        budget.limit_usd = limit_usd
        budget.save(update_fields=["limit_usd", "updated_at"])
        audit_record(
            action="llm.budget.limit_changed",
            actor=actor,
            target_type="daily_budget",
            target_id=f"{budget.agent_slug}:{budget.day.isoformat()}",
            details={"from": str(previous), "to": str(limit_usd)},
        )
    return budget
