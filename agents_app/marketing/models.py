"""Marketing campaigns: the campaign, its copy variants, and the outbox of its messages.

These models live in the ``agents_app`` app (``app_label``) and are loaded by
``AgentsConfig.ready()``. Lifecycle (agents_app.marketing.services):

``draft`` (the marketing agent's task is writing the copy) -> ``scheduled`` (copy
written; waits for ``send_at``) -> ``sending`` (claimed by one dispatcher with a
conditional UPDATE and a lease) -> ``completed`` | ``failed``; ``cancelled`` from any
state before it finished.
"""

from __future__ import annotations

import uuid
from decimal import Decimal

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils import timezone


class CampaignType(models.TextChoices):
    EMAIL = "email", "Email"
    SMS = "sms", "SMS"
    SOCIAL = "social", "Social post"
    MULTI_CHANNEL = "multi_channel", "Email, SMS and social"


class Channel(models.TextChoices):
    EMAIL = "email", "Email"
    SMS = "sms", "SMS"
    SOCIAL = "social", "Social"


CHANNELS_OF_TYPE: dict[str, tuple[str, ...]] = {
    CampaignType.EMAIL: (Channel.EMAIL,),
    CampaignType.SMS: (Channel.SMS,),
    CampaignType.SOCIAL: (Channel.SOCIAL,),
    CampaignType.MULTI_CHANNEL: (Channel.EMAIL, Channel.SMS, Channel.SOCIAL),
}
# Channels with one message per customer; a social campaign is one post per variant.
PER_CUSTOMER_CHANNELS = (Channel.EMAIL, Channel.SMS)


class CampaignStatus(models.TextChoices):
    DRAFT = "draft", "Draft (copy being written)"
    SCHEDULED = "scheduled", "Scheduled"
    SENDING = "sending", "Sending"
    COMPLETED = "completed", "Completed"
    FAILED = "failed", "Failed"
    CANCELLED = "cancelled", "Cancelled"


FINAL_CAMPAIGN_STATUSES = (CampaignStatus.COMPLETED, CampaignStatus.FAILED, CampaignStatus.CANCELLED)


class Campaign(models.Model):
    """One marketing campaign.

    ``target_audience`` is the validated filter (agents_app.marketing.audience);
    ``audience_size`` is the number of real customers it matched when the campaign was
    created (``audience_resolved_at``); the recipients are resolved again when it is
    sent. ``content_template`` is the brief the agent writes from, with personalisation
    placeholders. ``copy_task`` is the marketing agent's task that writes the variants.
    ``budget`` caps what the campaign may spend (spend ledger rows with its
    ``campaign_ref``); None = only the agent's daily budget applies.
    """

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    name = models.CharField(max_length=200)
    campaign_type = models.CharField(max_length=16, choices=CampaignType.choices)
    status = models.CharField(
        max_length=16, choices=CampaignStatus.choices, default=CampaignStatus.DRAFT, db_index=True
    )
    target_audience = models.JSONField(default=dict, blank=True)
    audience_size = models.PositiveIntegerField(default=0)
    audience_resolved_at = models.DateTimeField(null=True, blank=True)
    content_template = models.TextField()
    send_at = models.DateTimeField(db_index=True)
    budget = models.DecimalField(max_digits=12, decimal_places=2, null=True, blank=True)
    ab_test = models.JSONField(default=dict, blank=True)
    agent_slug = models.SlugField(max_length=64)
    copy_task = models.ForeignKey(
        "agents_app.AgentTask", null=True, blank=True, on_delete=models.SET_NULL, related_name="campaigns"
    )
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="campaigns"
    )
    error = models.TextField(blank=True)
    error_code = models.CharField(max_length=64, blank=True)
    # Held by the dispatcher that sends the campaign, renewed per message; an expired
    # lease on a ``sending`` campaign lets another dispatcher resume it.
    lease_expires_at = models.DateTimeField(null=True, blank=True)
    messages_prepared_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(default=timezone.now, db_index=True)
    scheduled_at = models.DateTimeField(null=True, blank=True)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        constraints = [
            models.CheckConstraint(condition=Q(budget__isnull=True) | Q(budget__gt=0), name="campaign_budget_positive")
        ]
        indexes = [models.Index(fields=["status", "send_at"], name="campaign_status_send_at")]

    def __str__(self) -> str:
        return f"{self.name} ({self.status})"

    @property
    def channels(self) -> tuple[str, ...]:
        return CHANNELS_OF_TYPE[self.campaign_type]


class CampaignVariant(models.Model):
    """One version of the copy (A, B, ...), written by the marketing agent through the
    LLM gateway. ``weight`` is its share of recipients in percent. Texts may hold the
    allowed placeholders (``{first_name}``...), filled per recipient when sent.
    ``ledger_entry_ids`` name the spend ledger rows of the calls that wrote it."""

    campaign = models.ForeignKey(Campaign, on_delete=models.CASCADE, related_name="variants")
    label = models.CharField(max_length=1)
    weight = models.PositiveSmallIntegerField()
    subject = models.CharField(max_length=300, blank=True)
    email_body = models.TextField(blank=True)
    sms_body = models.TextField(blank=True)
    social_body = models.TextField(blank=True)
    provider = models.CharField(max_length=32, blank=True)
    model = models.CharField(max_length=128, blank=True)
    cost_usd = models.DecimalField(max_digits=12, decimal_places=6, default=Decimal("0"))
    ledger_entry_ids = models.JSONField(default=list, blank=True)
    raw_text = models.TextField(blank=True)
    # Placeholders the model used that do not exist; removed from the texts above.
    removed_placeholders = models.JSONField(default=list, blank=True)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["campaign", "label"]
        constraints = [
            models.UniqueConstraint(fields=["campaign", "label"], name="campaign_variant_label"),
            models.CheckConstraint(condition=Q(weight__gte=1, weight__lte=100), name="campaign_variant_weight_1_100"),
        ]

    def __str__(self) -> str:
        return f"{self.campaign_id} variant {self.label}"

    def body_for(self, channel: str) -> str:
        bodies: dict[str, str] = {
            Channel.EMAIL: self.email_body,
            Channel.SMS: self.sms_body,
            Channel.SOCIAL: self.social_body,
        }
        return bodies[channel]


class MessageStatus(models.TextChoices):
    PENDING = "pending", "Waiting to be sent"
    SENDING = "sending", "Handed to the channel, outcome not recorded"
    SENT = "sent", "Accepted by the sending backend"
    RECORDED = "recorded", "Recorded in the outbox only (no provider wired): not sent"
    FAILED = "failed", "Failed"
    SKIPPED = "skipped", "Skipped"


class CampaignMessage(models.Model):
    """The outbox: one message of a campaign to one customer on one channel (or, for
    social, one post per variant with no customer).

    Unique per (campaign, customer, channel), so a re-run never creates or sends a
    message twice. ``status`` says what really happened: ``sent`` only when the channel
    backend accepted it (Django's email backend for email), ``recorded`` when the
    backend only keeps it here (SMS and social: no provider is wired), ``skipped`` with
    ``reason`` (no consent, no address, campaign cancelled), ``failed`` with ``error``.
    """

    campaign = models.ForeignKey(Campaign, on_delete=models.CASCADE, related_name="messages")
    variant = models.ForeignKey(CampaignVariant, on_delete=models.CASCADE, related_name="messages")
    customer = models.ForeignKey(
        "commerce_app.Customer", null=True, blank=True, on_delete=models.SET_NULL, related_name="campaign_messages"
    )
    channel = models.CharField(max_length=16, choices=Channel.choices)
    recipient = models.CharField(max_length=254, blank=True)
    subject = models.CharField(max_length=300, blank=True)
    body = models.TextField(blank=True)
    status = models.CharField(max_length=16, choices=MessageStatus.choices, default=MessageStatus.PENDING)
    reason = models.CharField(max_length=64, blank=True)
    backend = models.CharField(max_length=64, blank=True)
    provider_message_id = models.CharField(max_length=200, blank=True)
    error = models.TextField(blank=True)
    created_at = models.DateTimeField(default=timezone.now)
    sent_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["id"]
        constraints = [
            models.UniqueConstraint(
                fields=["campaign", "customer", "channel"],
                condition=Q(customer__isnull=False),
                name="campaign_message_once_per_customer",
            ),
            models.UniqueConstraint(
                fields=["campaign", "variant", "channel"],
                condition=Q(channel="social"),
                name="campaign_message_once_per_post",
            ),
        ]
        indexes = [
            models.Index(fields=["campaign", "status"], name="campaign_message_status"),
            models.Index(fields=["status", "channel"], name="campaign_message_filter"),
        ]

    def __str__(self) -> str:
        return f"{self.channel} to {self.recipient or '-'} ({self.status})"
