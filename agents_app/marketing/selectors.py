"""Reads of marketing campaigns: lists, one campaign, and its results.

Results are computed from the outbox (``CampaignMessage`` rows) and from real orders:
per variant and channel the count of messages in each status, and the orders
attributed to the campaign. An order is attributed to a variant when its customer was
*sent* a message of that variant (status ``sent``: a backend accepted it) and placed
the order (processing or completed) after the first such message and within
MARKETING_ATTRIBUTION_DAYS of it. ``recorded`` messages (SMS/social with no provider
wired) reached nobody and attribute nothing. Opens and clicks are not tracked: no
tracking pixel or link redirect exists.
"""

from __future__ import annotations

import uuid
from collections import defaultdict
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

from django.conf import settings
from django.db.models import Count, Min, QuerySet, Sum
from django.db.models.functions import Coalesce

from agents_app.llm.models import SpendLedgerEntry
from agents_app.marketing.exceptions import CampaignNotFoundError
from agents_app.marketing.models import Campaign, CampaignMessage, CampaignStatus, MessageStatus
from commerce_app import selectors as shop

ZERO = Decimal("0")
NOT_TRACKED = (
    "Opens and clicks are not tracked (no tracking pixel or link redirect). Attribution counts orders a "
    "recipient placed after a message was sent to them, within the attribution window; 'recorded' messages "
    "were not sent to anyone and attribute nothing."
)


def campaign_queryset(*, status: str = "", campaign_type: str = "") -> QuerySet[Campaign]:
    qs = Campaign.objects.select_related("created_by", "copy_task").prefetch_related("variants")
    if status:
        qs = qs.filter(status=status)
    if campaign_type:
        qs = qs.filter(campaign_type=campaign_type)
    return qs.order_by("-created_at", "-id")


def campaign_get(campaign_id: str | uuid.UUID) -> Campaign:
    campaign = campaign_queryset().filter(pk=campaign_id).first()
    if campaign is None:
        raise CampaignNotFoundError("No such campaign.", details={"campaign_id": str(campaign_id)})
    return campaign


def campaigns_due(*, now: datetime, limit: int = 50) -> list[str]:
    """Campaigns a dispatcher should claim: scheduled and due, or sending with an expired lease."""
    scheduled = Campaign.objects.filter(status=CampaignStatus.SCHEDULED, send_at__lte=now)
    stalled = Campaign.objects.filter(status=CampaignStatus.SENDING, lease_expires_at__lt=now)
    ids = [*scheduled.order_by("send_at").values_list("id", flat=True)[:limit]]
    ids += [*stalled.order_by("send_at").values_list("id", flat=True)[: max(0, limit - len(ids))]]
    return [str(i) for i in ids]


def campaign_spend(campaign_id: str | uuid.UUID) -> Decimal:
    """What the campaign's paid calls (copy writing, paid channels) cost: the spend ledger."""
    total = SpendLedgerEntry.objects.filter(campaign_ref=str(campaign_id)).aggregate(
        amount=Coalesce(Sum("amount"), ZERO)
    )["amount"]
    return Decimal(total)


def campaign_results(campaign: Campaign, *, now: datetime | None = None) -> dict[str, Any]:
    """Counts per variant/channel/status and attributed orders per variant (4 queries)."""
    variants = {v.pk: v.label for v in campaign.variants.all()}
    counts: dict[str, dict[str, dict[str, int]]] = defaultdict(lambda: defaultdict(lambda: defaultdict(int)))
    totals: dict[str, int] = defaultdict(int)
    rows = (
        CampaignMessage.objects.filter(campaign=campaign)
        .values("variant_id", "channel", "status")
        .annotate(n=Count("id"))
        .order_by()
    )
    for row in rows:
        counts[variants.get(row["variant_id"], "?")][row["channel"]][row["status"]] += row["n"]
        totals[row["status"]] += row["n"]
    window = timedelta(days=settings.MARKETING_ATTRIBUTION_DAYS)
    first_sent = list(
        CampaignMessage.objects.filter(campaign=campaign, status=MessageStatus.SENT, customer__isnull=False)
        .values("customer_id", "variant_id")
        .annotate(first=Min("sent_at"))
        .order_by()
    )
    attributed: dict[str, dict[str, Any]] = {
        label: {"recipients_sent": 0, "orders": 0, "customers_ordered": 0, "revenue": ZERO}
        for label in variants.values()
    }
    if first_sent:
        by_customer = {row["customer_id"]: row for row in first_sent}
        for row in first_sent:
            attributed[variants[row["variant_id"]]]["recipients_sent"] += 1
        orders = shop.revenue_orders_of(
            customer_ids=list(by_customer),
            placed_after=min(row["first"] for row in first_sent),
            placed_before=max(row["first"] for row in first_sent) + window,
        )
        buyers: dict[str, set[int]] = defaultdict(set)
        for order in orders:
            sent = by_customer[order["customer_id"]]
            if not sent["first"] < order["placed_at"] <= sent["first"] + window:
                continue
            label = variants[sent["variant_id"]]
            attributed[label]["orders"] += 1
            attributed[label]["revenue"] += order["total"]
            buyers[label].add(order["customer_id"])
        for label, customers in buyers.items():
            attributed[label]["customers_ordered"] = len(customers)
    per_variant = []
    for label in sorted(variants.values()):
        a = attributed[label]
        per_variant.append(
            {
                "label": label,
                "messages": {channel: dict(statuses) for channel, statuses in sorted(counts[label].items())},
                "recipients_sent": a["recipients_sent"],
                "attributed_orders": a["orders"],
                "attributed_customers": a["customers_ordered"],
                "attributed_revenue": a["revenue"].quantize(Decimal("0.01")),
                "conversion_rate_pct": round(100 * a["customers_ordered"] / a["recipients_sent"], 2)
                if a["recipients_sent"]
                else None,
            }
        )
    spend = campaign_spend(campaign.id)
    revenue = sum((v["attributed_revenue"] for v in per_variant), Decimal("0.00"))
    return {
        "messages": {status: totals.get(status, 0) for status in MessageStatus.values},
        "variants": per_variant,
        "attributed_orders": sum(v["attributed_orders"] for v in per_variant),
        "attributed_revenue": revenue,
        "attribution_window_days": settings.MARKETING_ATTRIBUTION_DAYS,
        "spend_usd": spend.quantize(Decimal("0.000001")),
        "budget": campaign.budget,
        "tracking": NOT_TRACKED,
    }
