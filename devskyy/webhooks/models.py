"""Outbound webhook subscriptions and their deliveries.

A delivery row is written in the same transaction as the change it announces and
keeps the exact payload sent, so a dead-lettered delivery can be replayed byte for
byte (re-signed with a fresh timestamp).
"""

from __future__ import annotations

import uuid

from django.conf import settings
from django.db import models

from devskyy.core.fields import EncryptedTextField


class WebhookSubscription(models.Model):
    """A receiver URL (checked by the SSRF guard at creation and at every delivery),
    the event types it wants, and the signing secret (encrypted at rest)."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    name = models.CharField(max_length=100, blank=True)
    url = models.URLField(max_length=2000)
    event_types = models.JSONField(default=list)
    secret = EncryptedTextField()
    active = models.BooleanField(default=True, db_index=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return self.name or self.url


class DeliveryStatus(models.TextChoices):
    PENDING = "pending", "Waiting for its next attempt"
    DELIVERING = "delivering", "Being sent"
    SUCCEEDED = "succeeded", "Delivered (2xx)"
    DEAD = "dead", "Dead-lettered"


class WebhookDelivery(models.Model):
    """One event for one subscription. ``payload`` is the JSON body sent, kept for replay.

    ``lease_until`` bounds a claim: a worker that died mid-send leaves a lease that
    expires, and the delivery may be claimed again.
    """

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    subscription = models.ForeignKey(WebhookSubscription, on_delete=models.CASCADE, related_name="deliveries")
    event_id = models.UUIDField(db_index=True)
    event_type = models.CharField(max_length=64, db_index=True)
    payload = models.JSONField()
    status = models.CharField(max_length=16, choices=DeliveryStatus.choices, default=DeliveryStatus.PENDING)
    attempts = models.PositiveIntegerField(default=0)
    max_attempts = models.PositiveIntegerField()
    next_attempt_at = models.DateTimeField(null=True, blank=True)
    lease_until = models.DateTimeField(null=True, blank=True)
    last_attempt_at = models.DateTimeField(null=True, blank=True)
    last_response_code = models.IntegerField(null=True, blank=True)
    last_error = models.TextField(blank=True)
    delivered_at = models.DateTimeField(null=True, blank=True)
    replays = models.PositiveIntegerField(default=0)
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["-created_at"]
        indexes = [models.Index(fields=["status", "next_attempt_at"], name="webhook_delivery_due")]

    def __str__(self) -> str:
        return f"{self.event_type} -> {self.subscription_id} ({self.status})"
