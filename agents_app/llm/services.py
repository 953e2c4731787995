"""Writes of the LLM gateway (and of every paid integration: the spend ledger)."""

from __future__ import annotations

from collections.abc import Sequence
from decimal import Decimal
from typing import Any, Protocol

from django.db import transaction
from django.utils import timezone

from agents_app.llm.models import (
    Provider,
    ProviderCredential,
    RoundTable,
    RoundTableEntry,
    RoundTableStatus,
    SpendKind,
    SpendLedgerEntry,
    SpendSource,
)
from devskyy.core.encryption import encrypt
from devskyy.core.errors import DomainError


class EntryLike(Protocol):
    """What round_table_finish needs of an entry (round_table.EntryResult)."""

    provider: str
    model: str
    status: str
    text: str
    error: str
    finish_reason: str
    latency_ms: int | None
    prompt_tokens: int | None
    completion_tokens: int | None
    cost_usd: Decimal
    score: Decimal | None
    breakdown: dict[str, float]
    rank: int | None


def ledger_record(
    *,
    provider: str,
    amount: Decimal,
    kind: str = SpendKind.LLM,
    source: str = SpendSource.PROVIDER_USAGE,
    price_source: str = "",
    model: str = "",
    outcome: str = "ok",
    error: str = "",
    prompt_tokens: int | None = None,
    completion_tokens: int | None = None,
    latency_ms: int | None = None,
    agent_slug: str = "",
    task_id: str = "",
    product_refs: Sequence[int | str] = (),
    campaign_ref: str = "",
    purpose: str = "",
    details: dict[str, Any] | None = None,
) -> SpendLedgerEntry:
    """Record one paid call (LLM, 3D, try-on, messaging) in the spend ledger."""
    if kind not in SpendKind.values:
        raise DomainError(f"Unknown spend kind {kind!r}.", code="invalid_spend")
    if source not in SpendSource.values:
        raise DomainError(f"Unknown spend source {source!r}.", code="invalid_spend")
    if amount < 0:
        raise DomainError("A spend amount cannot be negative.", code="invalid_spend")
    return SpendLedgerEntry.objects.create(
        kind=kind,
        amount=amount,
        currency="USD",
        source=source,
        price_source=price_source,
        provider=provider,
        model=model,
        outcome=outcome,
        error=error[:2000],
        prompt_tokens=prompt_tokens,
        completion_tokens=completion_tokens,
        latency_ms=latency_ms,
        agent_slug=agent_slug,
        task_id=str(task_id),
        product_refs=[str(ref) for ref in product_refs],
        campaign_ref=campaign_ref,
        purpose=purpose,
        details=details or {},
    )


def provider_credential_save(
    *,
    provider: str,
    api_key: str,
    base_url: str = "",
    default_model: str = "",
    enabled: bool = True,
    priority: int = 100,
) -> ProviderCredential:
    """Store (or replace) a provider's key, encrypted; the plaintext is not kept."""
    if provider not in Provider.values:
        raise DomainError(f"Unknown LLM provider {provider!r}.", code="invalid_provider")
    with transaction.atomic():
        credential, _ = ProviderCredential.objects.update_or_create(
            provider=provider,
            defaults={
                "api_key_encrypted": encrypt(api_key) if api_key else "",
                "base_url": base_url,
                "default_model": default_model,
                "enabled": enabled,
                "priority": priority,
            },
        )
    return credential


def round_table_start(
    *, prompt: str, system_prompt: str, agent_slug: str, task_id: str, owner_id: int | None = None
) -> RoundTable:
    return RoundTable.objects.create(
        prompt=prompt, system_prompt=system_prompt, agent_slug=agent_slug, task_id=str(task_id), owner_id=owner_id
    )


def round_table_finish(
    *,
    round_table: RoundTable,
    entries: Sequence[EntryLike],
    winner_provider: str | None,
    verdict_method: str,
    verdict_reason: str,
    judge_provider: str,
    judge_model: str,
    judge_error: str,
    total_cost_usd: Decimal,
) -> RoundTable:
    """Persist every entry with its score and the verdict; a Round Table with no
    answer at all is marked failed."""
    with transaction.atomic():
        rows = RoundTableEntry.objects.bulk_create(
            [
                RoundTableEntry(
                    round_table=round_table,
                    provider=e.provider,
                    model=e.model,
                    status=e.status,
                    text=e.text,
                    error=e.error[:2000],
                    finish_reason=e.finish_reason,
                    latency_ms=e.latency_ms,
                    prompt_tokens=e.prompt_tokens,
                    completion_tokens=e.completion_tokens,
                    cost_usd=e.cost_usd,
                    score=e.score,
                    score_breakdown=e.breakdown,
                    rank=e.rank,
                )
                for e in entries
            ]
        )
        by_provider = {row.provider: row for row in rows}
        round_table.winner = by_provider.get(winner_provider) if winner_provider else None
        round_table.verdict_method = verdict_method
        round_table.verdict_reason = verdict_reason
        round_table.judge_provider = judge_provider
        round_table.judge_model = judge_model
        round_table.judge_error = judge_error[:2000]
        round_table.total_cost_usd = total_cost_usd
        round_table.status = RoundTableStatus.COMPLETED if round_table.winner else RoundTableStatus.FAILED
        round_table.finished_at = timezone.now()
        round_table.save()
    return round_table
