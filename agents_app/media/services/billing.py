"""What a media job costs: its list price, its one ledger row and its daily-budget reservation.

The spend ledger gets exactly one row per job that reached the provider: the price when
the provider did (or may have done) the work (success, output we could not use, cancel
after submission, unknown outcome), 0 with ``outcome="error"`` when it refused. These
run inside the caller's transaction with the job's row locked.
"""

from __future__ import annotations

from datetime import date
from decimal import Decimal

from django.conf import settings

from agents_app.llm.budget import PLATFORM_BUDGET, Reservation, budget_release, budget_settle, today
from agents_app.llm.models import SpendKind, SpendSource
from agents_app.llm.services import ledger_record
from agents_app.media.models import MediaJob, MediaProvider

_ZERO = Decimal("0")


def price_of(provider: str) -> Decimal:
    value = settings.TRIPO_PRICE_USD_PER_TASK if provider == MediaProvider.TRIPO else settings.FASHN_PRICE_USD_PER_RUN
    return Decimal(str(value))


def _reservation(job: MediaJob) -> Reservation | None:
    if not job.budget:
        return None
    return Reservation(
        budget_id=job.budget.get("budget_id"),
        agent_slug=str(job.budget.get("agent_slug", "")),
        day=date.fromisoformat(str(job.budget["day"])),
        amount=Decimal(str(job.budget.get("amount", "0"))),
    )


def job_release(job: MediaJob) -> None:
    """Give the job's unspent reservation back (nothing reached the provider)."""
    reservation = _reservation(job)
    if reservation is not None and not job.budget.get("settled"):
        budget_release(reservation=reservation)
        job.budget = {**job.budget, "settled": "released"}


def job_charge(job: MediaJob, *, billed: bool, outcome: str) -> None:
    """Write the job's one ledger row and settle the budget (the caller saves the job)."""
    if job.ledger_entry_id is not None:
        return
    amount = price_of(job.provider) if billed else Decimal("0")
    entry = ledger_record(
        kind=SpendKind.MODEL_3D if job.provider == MediaProvider.TRIPO else SpendKind.TRYON,
        provider=job.provider,
        amount=amount,
        source=SpendSource.PRICE_TABLE,
        price_source="TRIPO_PRICE_USD_PER_TASK" if job.provider == MediaProvider.TRIPO else "FASHN_PRICE_USD_PER_RUN",
        model=settings.FASHN_MODEL_NAME
        if job.provider == MediaProvider.FASHN
        else str((job.inputs.get("options") or {}).get("model_version", "")),
        outcome=outcome,
        error=job.error if outcome != "ok" else "",
        agent_slug=job.agent_slug,
        task_id=job.agent_task_id,
        product_refs=[job.product_id] if job.product_id else [],
        purpose=job.kind,
        details={"media_job_id": str(job.pk), "provider_task_id": job.provider_task_id},
    )
    job.ledger_entry = entry
    job.cost_usd = amount
    reservation = _reservation(job)
    if reservation is not None and not job.budget.get("settled"):
        budget_settle(reservation=reservation, actual=amount)
        job.budget = {**job.budget, "settled": "charged"}
    elif amount > 0:
        # Charged without a reservation: still count the spend against today's budget.
        budget_settle(reservation=Reservation(None, job.agent_slug or PLATFORM_BUDGET, today(), _ZERO), actual=amount)
