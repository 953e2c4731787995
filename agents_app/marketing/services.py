"""Every write of marketing campaigns: create, copy written/failed, cancel, send now, send.

Creating a campaign validates everything first (nothing is written on a 4xx/503),
resolves the audience against real customers, and queues the marketing agent's
``campaign_write_copy`` task; when that task has written the variants the campaign is
``scheduled``. Sending is claimed race-free (a conditional UPDATE
``scheduled -> sending`` with a lease) by whichever dispatcher sees the campaign due
first (celery beat every MARKETING_DISPATCH_INTERVAL_SECONDS, a queue message on
commit when it is already due, ``manage.py send_due_campaigns``). Messages are claimed
(``pending -> sending``, ``SELECT ... FOR UPDATE SKIP LOCKED``) in chunks of
``IN_FLIGHT`` before their channel backend is called, so two senders never send one
message twice; messages a dead sender had claimed but not recorded are ``failed`` with
``outcome_unknown`` rather than sent again (at most once, never twice).

Outbound webhook events (``devskyy.core.outbound.emit``, in the transaction that makes
the change): ``campaign.scheduled`` (copy written, waits for ``send_at``),
``campaign.sent`` (the campaign went out: recipients resolved and every message
recorded in the outbox, with counts per channel), ``campaign.completed`` (every
message has an outcome; counts per status; also for a campaign that ended ``failed``).
"""

from __future__ import annotations

import hashlib
import logging
import threading
import time
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

from django.conf import settings
from django.contrib.auth.models import AbstractBaseUser, AnonymousUser
from django.db import transaction
from django.db.models import Q
from django.utils import timezone

from agents_app.marketing import audience as audiences
from agents_app.marketing import placeholders
from agents_app.marketing.channels import ChannelBackend, backend_for
from agents_app.marketing.exceptions import CampaignStateError, InvalidCampaignError
from agents_app.marketing.models import (
    PER_CUSTOMER_CHANNELS,
    Campaign,
    CampaignMessage,
    CampaignStatus,
    CampaignType,
    CampaignVariant,
    Channel,
    MessageStatus,
)
from agents_app.models import AgentTask
from agents_app.services.tasks import task_cancel, task_create
from agents_app.tools.integrations import require
from devskyy.core import outbound
from devskyy.core.audit import audit_record
from devskyy.core.background import enqueue
from devskyy.core.durability import through_outage

logger = logging.getLogger(__name__)

COPY_ACTION = "campaign_write_copy"
# Which marketing agent writes each type's copy (agents_app/catalog.py).
COPY_AGENTS: dict[str, str] = {
    CampaignType.EMAIL: "marketing-002",
    CampaignType.SMS: "marketing-003",
    CampaignType.SOCIAL: "marketing-004",
    CampaignType.MULTI_CHANNEL: "marketing-001",
}
LABELS = "ABCD"
MIN_VARIANTS, MAX_VARIANTS = 2, 4
# send_at may lie this far in the past (clock skew, a form filled a minute ago).
PAST_GRACE = timedelta(minutes=5)
MAX_AHEAD = timedelta(days=365)
BRIEF_MAX_CHARS = 5000
# A sender renews its lease at least this often; the renewal is also how it notices a
# cancel, so a cancelled campaign stops within this many seconds.
RENEW_SECONDS = 2.0
# Messages a sender claims at once (pending -> sending) before handing them to their
# channel one by one: if the sender dies, at most this many end "outcome unknown".
IN_FLIGHT = 25


# --- create ---------------------------------------------------------------------------------


def _split(ab_test: dict[str, Any] | None, errors: list[dict[str, str]]) -> list[int]:
    """Weights (percent) of the variants; one variant when there is no A/B test."""
    if not ab_test:
        return [100]
    unknown = sorted(set(ab_test) - {"variants", "split"})
    if unknown:
        errors.append({"path": "/ab_test", "message": f"unknown key(s): {', '.join(unknown)}"})
        return [100]
    count = ab_test.get("variants")
    if not isinstance(count, int) or isinstance(count, bool) or not MIN_VARIANTS <= count <= MAX_VARIANTS:
        errors.append(
            {"path": "/ab_test/variants", "message": f"an A/B test has {MIN_VARIANTS} to {MAX_VARIANTS} variants"}
        )
        return [100]
    split = ab_test.get("split")
    if split is None:
        base = 100 // count
        return [base + (1 if i < 100 - base * count else 0) for i in range(count)]
    if (
        not isinstance(split, list)
        or len(split) != count
        or not all(isinstance(w, int) and not isinstance(w, bool) and w >= 1 for w in split)
        or sum(split) != 100
    ):
        errors.append(
            {
                "path": "/ab_test/split",
                "message": f"a list of {count} whole percentages, each at least 1, summing to 100",
            }
        )
        return [100]
    return list(split)


@dataclass(frozen=True)
class CampaignRequest:
    """A validated campaign request (``campaign_validate``)."""

    name: str
    campaign_type: str
    audience: dict[str, Any]
    content_template: str
    send_at: datetime
    budget: Decimal | None
    weights: list[int]
    ab_test: dict[str, Any]


def campaign_validate(
    *,
    campaign_type: str,
    target_audience: dict[str, Any] | None,
    content_template: str,
    send_at: datetime | None,
    budget: Decimal | None,
    ab_test: dict[str, Any] | None,
    name: str = "",
    now: datetime | None = None,
) -> CampaignRequest:
    """Check a request whole; raises InvalidAudienceError or InvalidCampaignError (400)
    listing every problem of that kind."""
    now = now or timezone.now()
    audience = audiences.validate_audience(target_audience)
    errors: list[dict[str, str]] = []
    if campaign_type not in CampaignType.values:
        errors.append({"path": "/campaign_type", "message": f"one of {', '.join(CampaignType.values)}"})
    brief = (content_template or "").strip()
    if not brief:
        errors.append({"path": "/content_template", "message": "the brief the agent writes from is required"})
    elif len(brief) > BRIEF_MAX_CHARS:
        errors.append({"path": "/content_template", "message": f"at most {BRIEF_MAX_CHARS} characters"})
    unknown = placeholders.unknown_in(brief)
    if unknown:
        errors.append(
            {
                "path": "/content_template",
                "message": f"unknown placeholder(s) {', '.join('{' + n + '}' for n in unknown)}; "
                f"allowed: {', '.join('{' + n + '}' for n in placeholders.PLACEHOLDERS)}",
            }
        )
    if send_at is None:
        send_at = now
    elif send_at.tzinfo is None or send_at.utcoffset() is None:
        errors.append({"path": "/schedule/send_at", "message": "needs a timezone (e.g. 2025-06-01T09:00:00Z)"})
    elif send_at < now - PAST_GRACE:
        errors.append({"path": "/schedule/send_at", "message": "is in the past"})
    elif send_at > now + MAX_AHEAD:
        errors.append({"path": "/schedule/send_at", "message": "is more than a year ahead"})
    if budget is not None and budget <= 0:
        errors.append({"path": "/budget", "message": "must be positive (omit it for no campaign limit)"})
    weights = _split(ab_test, errors)
    if errors:
        raise InvalidCampaignError(
            f"The campaign request is invalid: {errors[0]['message']}", details={"errors": errors}
        )
    return CampaignRequest(
        name=(name or "").strip()[:200] or f"{CampaignType(campaign_type).label} campaign {now:%Y-%m-%d %H:%M}",
        campaign_type=campaign_type,
        audience=audience,
        content_template=brief,
        send_at=send_at,
        budget=budget,
        weights=weights,
        ab_test={"variants": len(weights), "split": weights} if len(weights) > 1 else {},
    )


def campaign_create(
    *,
    campaign_type: str,
    target_audience: dict[str, Any] | None,
    content_template: str,
    user: AbstractBaseUser | AnonymousUser | None,
    send_at: datetime | None = None,
    budget: Decimal | None = None,
    ab_test: dict[str, Any] | None = None,
    name: str = "",
) -> Campaign:
    """Validate, resolve the audience, persist the campaign and queue its copy task.

    Raises (and writes nothing): InvalidAudienceError / InvalidCampaignError (400),
    LLMNotConfiguredError (503: nobody could write the copy), InsufficientDataError
    (422: a ``segment`` condition on a shop with too few customers).
    """
    request = campaign_validate(
        campaign_type=campaign_type,
        target_audience=target_audience,
        content_template=content_template,
        send_at=send_at,
        budget=budget,
        ab_test=ab_test,
        name=name,
    )
    require("llm")
    resolved = audiences.resolve(request.audience)
    size = resolved.queryset.count()
    actor = user if user is not None and user.is_authenticated else None
    with transaction.atomic():
        campaign = Campaign.objects.create(
            name=request.name,
            campaign_type=request.campaign_type,
            target_audience=request.audience,
            audience_size=size,
            audience_resolved_at=resolved.resolved_at,
            content_template=request.content_template,
            send_at=request.send_at,
            budget=request.budget,
            ab_test=request.ab_test,
            agent_slug=COPY_AGENTS[request.campaign_type],
            created_by_id=actor.pk if actor is not None else None,
        )
        created = task_create(
            agent_slug=campaign.agent_slug,
            action=COPY_ACTION,
            parameters={"campaign_id": str(campaign.id)},
            user=user,
        )
        campaign.copy_task = created.task
        campaign.save(update_fields=["copy_task"])
        audit_record(
            action="campaign.create",
            actor=actor,
            target_type="campaign",
            target_id=str(campaign.id),
            details={"type": campaign.campaign_type, "audience_size": size, "send_at": campaign.send_at.isoformat()},
        )
    return campaign


# --- copy written by the agent's task -------------------------------------------------------


@dataclass(frozen=True)
class VariantCopy:
    label: str
    subject: str = ""
    email_body: str = ""
    sms_body: str = ""
    social_body: str = ""
    provider: str = ""
    model: str = ""
    cost_usd: Decimal = Decimal("0")
    ledger_entry_ids: list[str] = field(default_factory=list)
    raw_text: str = ""
    removed_placeholders: list[str] = field(default_factory=list)


def _event_payload(campaign: Campaign, **extra: Any) -> dict[str, Any]:
    return {
        "campaign_id": str(campaign.id),
        "name": campaign.name,
        "campaign_type": campaign.campaign_type,
        "status": campaign.status,
        "send_at": campaign.send_at.isoformat(),
        "audience_size": campaign.audience_size,
        **extra,
    }


def campaign_copy_written(*, campaign_id: str, variants: Sequence[VariantCopy]) -> Campaign:
    """Store the variants and schedule the campaign (only while it is still a draft:
    a campaign cancelled while its copy was written stays cancelled, without variants)."""
    with transaction.atomic():
        campaign = Campaign.objects.select_for_update().get(pk=campaign_id)
        if campaign.status != CampaignStatus.DRAFT:
            return campaign
        weights = campaign.ab_test.get("split") or [100]
        CampaignVariant.objects.bulk_create(
            [
                CampaignVariant(
                    campaign=campaign,
                    label=v.label,
                    weight=weights[i],
                    subject=v.subject[:300],
                    email_body=v.email_body,
                    sms_body=v.sms_body,
                    social_body=v.social_body,
                    provider=v.provider,
                    model=v.model,
                    cost_usd=v.cost_usd,
                    ledger_entry_ids=v.ledger_entry_ids,
                    raw_text=v.raw_text,
                    removed_placeholders=v.removed_placeholders,
                )
                for i, v in enumerate(variants)
            ]
        )
        campaign.status = CampaignStatus.SCHEDULED
        campaign.scheduled_at = timezone.now()
        campaign.save(update_fields=["status", "scheduled_at"])
        outbound.emit("campaign.scheduled", _event_payload(campaign, variants=[v.label for v in variants]))
        schedule_dispatch(campaign)
    return campaign


def campaign_copy_failed(*, campaign_id: str, error: str, code: str) -> bool:
    """The copy task failed: a draft campaign fails with its error (nothing to send)."""
    return bool(
        Campaign.objects.filter(pk=campaign_id, status=CampaignStatus.DRAFT).update(
            status=CampaignStatus.FAILED, error=error[:2000], error_code=code[:64], finished_at=timezone.now()
        )
    )


# --- cancel / send now ----------------------------------------------------------------------


def campaign_cancel(*, campaign: Campaign, user: Any = None) -> Campaign:
    """Cancel a campaign that has not finished: a draft's copy task is cancelled too, a
    scheduled one never sends, a sending one stops before its next message (the rest
    are recorded ``skipped``/``campaign_cancelled``). Finished ones raise 409."""
    with transaction.atomic():
        locked = Campaign.objects.select_for_update().get(pk=campaign.pk)
        if locked.status in (CampaignStatus.COMPLETED, CampaignStatus.FAILED, CampaignStatus.CANCELLED):
            raise CampaignStateError(
                f"The campaign is already {locked.status}.",
                details={"campaign_id": str(locked.id), "status": locked.status},
            )
        previous = locked.status
        locked.status = CampaignStatus.CANCELLED
        locked.finished_at = timezone.now()
        locked.save(update_fields=["status", "finished_at"])
        if previous == CampaignStatus.DRAFT and locked.copy_task_id is not None:
            task = AgentTask.objects.get(pk=locked.copy_task_id)
            if not task.is_final:
                task_cancel(task=task)
        audit_record(
            action="campaign.cancel",
            actor=user,
            target_type="campaign",
            target_id=str(locked.id),
            details={"previous_status": previous},
        )
    return locked


def campaign_send_now(*, campaign: Campaign, user: Any = None) -> Campaign:
    """Move a scheduled campaign's ``send_at`` to now and queue its sending."""
    with transaction.atomic():
        locked = Campaign.objects.select_for_update().get(pk=campaign.pk)
        if locked.status != CampaignStatus.SCHEDULED:
            raise CampaignStateError(
                f"Only a scheduled campaign can be sent now; this one is {locked.status}.",
                details={"campaign_id": str(locked.id), "status": locked.status},
            )
        previous = locked.send_at
        locked.send_at = timezone.now()
        locked.save(update_fields=["send_at"])
        audit_record(
            action="campaign.send_now",
            actor=user,
            target_type="campaign",
            target_id=str(locked.id),
            details={"previous_send_at": previous.isoformat()},
        )
        schedule_dispatch(locked)
    return locked


def schedule_dispatch(campaign: Campaign) -> None:
    """After commit: a due campaign is queued for sending at once. A future one is
    picked up by the beat dispatcher (production) or by a timer thread in embedded
    mode (no beat there; ``send_due_campaigns`` covers a restart)."""
    from agents_app.marketing.tasks import send_campaign

    campaign_id, send_at = str(campaign.id), campaign.send_at
    if send_at <= timezone.now():
        enqueue(send_campaign, campaign_id)
    elif settings.TASKS_EMBEDDED:
        transaction.on_commit(lambda: _embedded_timer(campaign_id, send_at))


def _embedded_timer(campaign_id: str, send_at: datetime) -> None:
    from agents_app.marketing.tasks import send_campaign
    from devskyy.core import background

    delay = max(0.0, (send_at - timezone.now()).total_seconds())
    timer = threading.Timer(delay, lambda: background.dispatch_now(send_campaign, campaign_id))
    timer.daemon = True
    timer.start()


# --- sending --------------------------------------------------------------------------------


@dataclass
class SendReport:
    campaign_id: str
    outcome: str  # sent | not_claimed | cancelled | lease_lost
    counts: dict[str, int] = field(default_factory=dict)
    status: str = ""  # the campaign's final status when this call finished it

    def as_dict(self) -> dict[str, Any]:
        return {"campaign_id": self.campaign_id, "outcome": self.outcome, "status": self.status, "counts": self.counts}


def _lease(now: datetime) -> datetime:
    return now + timedelta(seconds=settings.MARKETING_SEND_LEASE_SECONDS)


def campaign_claim(*, campaign_id: str, now: datetime | None = None) -> bool:
    """Take the campaign for sending: due and scheduled, or sending with an expired
    lease (its dispatcher died). One conditional UPDATE: exactly one caller wins."""
    now = now or timezone.now()
    claimable = Q(status=CampaignStatus.SCHEDULED, send_at__lte=now) | Q(
        status=CampaignStatus.SENDING, lease_expires_at__lt=now
    )
    claimed = (
        Campaign.objects.filter(pk=campaign_id)
        .filter(claimable)
        .update(status=CampaignStatus.SENDING, lease_expires_at=_lease(now))
    )
    if claimed:
        Campaign.objects.filter(pk=campaign_id, started_at__isnull=True).update(started_at=now)
    return bool(claimed)


def _variant_for(campaign_id: str, customer_id: int, variants: list[CampaignVariant]) -> CampaignVariant:
    """Stable assignment by weight: the same customer always gets the same variant."""
    digest = hashlib.sha256(f"{campaign_id}:{customer_id}".encode()).digest()
    point = int.from_bytes(digest[:8], "big") % 100
    total = 0
    for variant in variants:
        total += variant.weight
        if point < total:
            return variant
    return variants[-1]


def _prepare_messages(campaign: Campaign) -> None:
    """Resolve the recipients now and record every message (pending, or skipped with a
    reason) in the outbox; then ``campaign.sent``. Re-runnable: existing rows are kept."""
    variants = list(campaign.variants.order_by("label"))
    channels = campaign.channels
    resolved = audiences.resolve(campaign.target_audience)
    rows = resolved.queryset.values(
        "id", "email", "phone", "first_name", "last_name", "city", "country", "accepts_marketing"
    )
    batch: list[CampaignMessage] = []

    def flush() -> None:
        CampaignMessage.objects.bulk_create(batch, ignore_conflicts=True)
        batch.clear()

    with transaction.atomic():
        for customer in rows.iterator(chunk_size=1000):
            variant = _variant_for(str(campaign.id), customer["id"], variants)
            values = placeholders.values_for(
                first_name=customer["first_name"],
                last_name=customer["last_name"],
                city=customer["city"],
                country=customer["country"],
            )
            for channel in channels:
                if channel not in PER_CUSTOMER_CHANNELS:
                    continue
                recipient = customer["email"] if channel == Channel.EMAIL else customer["phone"]
                reason = ""
                if not customer["accepts_marketing"]:
                    reason = "no_marketing_consent"
                elif not recipient:
                    reason = "no_email_address" if channel == Channel.EMAIL else "no_phone_number"
                batch.append(
                    CampaignMessage(
                        campaign=campaign,
                        variant=variant,
                        customer_id=customer["id"],
                        channel=channel,
                        recipient=recipient,
                        subject=placeholders.render(variant.subject, values) if channel == Channel.EMAIL else "",
                        body=placeholders.render(variant.body_for(channel), values),
                        status=MessageStatus.SKIPPED if reason else MessageStatus.PENDING,
                        reason=reason,
                    )
                )
            if len(batch) >= 1000:
                flush()
        if Channel.SOCIAL in channels:
            generic = placeholders.values_for(first_name="", last_name="", city="", country="")
            for variant in variants:
                batch.append(
                    CampaignMessage(
                        campaign=campaign,
                        variant=variant,
                        channel=Channel.SOCIAL,
                        body=placeholders.render(variant.social_body, generic),
                    )
                )
        flush()
        updated = Campaign.objects.filter(
            pk=campaign.pk, status=CampaignStatus.SENDING, messages_prepared_at__isnull=True
        ).update(messages_prepared_at=timezone.now())
        if updated:
            counts = Counter(
                (row["channel"], row["status"])
                for row in CampaignMessage.objects.filter(campaign=campaign).values("channel", "status")
            )
            per_channel = {
                channel: {
                    "messages": sum(n for (c, _), n in counts.items() if c == channel),
                    "skipped": counts.get((channel, MessageStatus.SKIPPED), 0),
                }
                for channel in channels
            }
            outbound.emit(
                "campaign.sent", _event_payload(campaign, status=CampaignStatus.SENDING, channels=per_channel)
            )


class _Backends:
    """One opened backend per channel for a sender's run, closed at its end."""

    def __init__(self) -> None:
        self._open: dict[str, ChannelBackend] = {}

    def get(self, channel: str) -> ChannelBackend:
        if channel not in self._open:
            backend = backend_for(channel)
            backend.open()
            self._open[channel] = backend
        return self._open[channel]

    def close(self) -> None:
        for backend in self._open.values():
            backend.close()
        self._open.clear()


def _send_chunk(message_ids: list[int], backends: _Backends) -> int:
    """Claim these messages (those still pending and not locked by another sender), hand
    each to its channel backend, record the outcomes. Two commits per chunk, not per
    message: on this VM a commit costs several ms (WAL flush), more than a loopback SMTP
    send (bench/campaign_send.py). Returns how many were sent here."""
    with transaction.atomic():
        claimed = list(
            CampaignMessage.objects.select_for_update(skip_locked=True)
            .filter(pk__in=message_ids, status=MessageStatus.PENDING)
            .values_list("pk", flat=True)
        )
        CampaignMessage.objects.filter(pk__in=claimed).update(status=MessageStatus.SENDING)
    if not claimed:
        return 0
    done: list[CampaignMessage] = []
    for message in CampaignMessage.objects.filter(pk__in=claimed).order_by("id"):
        backend = backends.get(message.channel)
        delivery = backend.send(message)
        message.status = delivery.status
        message.backend = backend.name
        message.provider_message_id = delivery.provider_message_id[:200]
        message.error = delivery.error
        message.sent_at = timezone.now() if delivery.status in (MessageStatus.SENT, MessageStatus.RECORDED) else None
        done.append(message)
    # The messages are with their channels: a short database outage must not turn their
    # outcomes into "outcome unknown" (core/durability.py).
    through_outage(
        lambda: CampaignMessage.objects.bulk_update(
            done, ["status", "backend", "provider_message_id", "error", "sent_at"]
        ),
        what="recording campaign message outcomes",
    )
    return len(done)


def _status_counts(campaign_id: str) -> dict[str, int]:
    rows = CampaignMessage.objects.filter(campaign_id=campaign_id).values_list("status", flat=True)
    return dict(Counter(rows))


def campaign_send(*, campaign_id: str) -> SendReport:
    """Send a campaign this caller has claimed (``campaign_claim``), message by message.

    Stops when the campaign is cancelled or this caller's lease was taken over; the
    last message decides: ``completed`` (at least one message sent or recorded, or no
    message at all) or ``failed`` (every message that was tried failed).
    """
    campaign = Campaign.objects.get(pk=campaign_id)
    # A dispatcher that died while a message was with its channel: the outcome is
    # unknown, and sending it again could deliver it twice.
    CampaignMessage.objects.filter(campaign_id=campaign_id, status=MessageStatus.SENDING).update(
        status=MessageStatus.FAILED,
        error="outcome unknown: the dispatcher stopped while sending",
        reason="outcome_unknown",
    )
    if campaign.messages_prepared_at is None:
        _prepare_messages(campaign)
    renew_every = min(RENEW_SECONDS, settings.MARKETING_SEND_LEASE_SECONDS / 3)
    renewed = time.monotonic()
    batch_size = settings.MARKETING_SEND_BATCH_SIZE
    backends = _Backends()
    try:
        while True:
            ids = list(
                CampaignMessage.objects.filter(campaign_id=campaign_id, status=MessageStatus.PENDING)
                .order_by("id")
                .values_list("id", flat=True)[:batch_size]
            )
            if not ids:
                break
            for start in range(0, len(ids), IN_FLIGHT):
                if time.monotonic() - renewed >= renew_every or start == 0:
                    renewed = time.monotonic()
                    still_ours = Campaign.objects.filter(pk=campaign_id, status=CampaignStatus.SENDING).update(
                        lease_expires_at=_lease(timezone.now())
                    )
                    if not still_ours:
                        return _stopped(campaign_id)
                _send_chunk(ids[start : start + IN_FLIGHT], backends)
    finally:
        backends.close()
    return _finish(campaign_id)


def _stopped(campaign_id: str) -> SendReport:
    status = Campaign.objects.filter(pk=campaign_id).values_list("status", flat=True).first()
    if status == CampaignStatus.CANCELLED:
        CampaignMessage.objects.filter(campaign_id=campaign_id, status=MessageStatus.PENDING).update(
            status=MessageStatus.SKIPPED, reason="campaign_cancelled"
        )
        return SendReport(campaign_id, "cancelled", _status_counts(campaign_id))
    return SendReport(campaign_id, "lease_lost", _status_counts(campaign_id))


def _finish(campaign_id: str) -> SendReport:
    counts = _status_counts(campaign_id)
    delivered = counts.get(MessageStatus.SENT, 0) + counts.get(MessageStatus.RECORDED, 0)
    failed = counts.get(MessageStatus.FAILED, 0)
    all_failed = failed > 0 and delivered == 0
    with transaction.atomic():
        fields: dict[str, Any] = {
            "status": CampaignStatus.FAILED if all_failed else CampaignStatus.COMPLETED,
            "finished_at": timezone.now(),
            "lease_expires_at": None,
        }
        if all_failed:
            first = (
                CampaignMessage.objects.filter(campaign_id=campaign_id, status=MessageStatus.FAILED)
                .values_list("error", flat=True)
                .first()
            )
            fields.update(error=f"every message failed; first error: {first}"[:2000], error_code="all_messages_failed")
        if not Campaign.objects.filter(pk=campaign_id, status=CampaignStatus.SENDING).update(**fields):
            return _stopped(campaign_id)
        campaign = Campaign.objects.get(pk=campaign_id)
        outbound.emit("campaign.completed", _event_payload(campaign, counts=counts))
    logger.info("campaign %s %s: %s", campaign_id, campaign.status, counts)
    return SendReport(campaign_id, "sent", counts, status=campaign.status)


def campaign_dispatch(*, campaign_id: str, now: datetime | None = None) -> SendReport:
    """Claim and send one campaign if it is due (a queue message, the admin's send now)."""
    if not campaign_claim(campaign_id=campaign_id, now=now):
        return SendReport(campaign_id, "not_claimed")
    return campaign_send(campaign_id=campaign_id)


@dataclass
class DispatchReport:
    due: int = 0
    reports: list[SendReport] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        return {"due": self.due, "campaigns": [r.as_dict() for r in self.reports]}


def campaigns_dispatch_due(*, now: datetime | None = None, limit: int = 50) -> DispatchReport:
    """Send every due campaign this caller manages to claim (beat, command)."""
    from agents_app.marketing.selectors import campaigns_due

    now = now or timezone.now()
    due = campaigns_due(now=now, limit=limit)
    report = DispatchReport(due=len(due))
    for campaign_id in due:
        sent = campaign_dispatch(campaign_id=campaign_id, now=now)
        if sent.outcome != "not_claimed":
            report.reports.append(sent)
    return report
