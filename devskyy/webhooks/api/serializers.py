"""Serializers of the outbound webhooks API (explicit input and output, secrets shown once)."""

from __future__ import annotations

from typing import Any

from rest_framework import serializers

from devskyy.core.outbound import EVENT_TYPES
from devskyy.webhooks.models import DeliveryStatus, WebhookDelivery, WebhookSubscription


class SubscriptionInputSerializer(serializers.Serializer[dict[str, Any]]):
    url = serializers.URLField(max_length=2000)
    event_types = serializers.ListField(
        child=serializers.ChoiceField(choices=list(EVENT_TYPES)), min_length=1, max_length=len(EVENT_TYPES)
    )
    name = serializers.CharField(max_length=100, required=False, default="", allow_blank=True)
    active = serializers.BooleanField(required=False, default=True)


class SubscriptionUpdateSerializer(serializers.Serializer[dict[str, Any]]):
    url = serializers.URLField(max_length=2000, required=False)
    event_types = serializers.ListField(
        child=serializers.ChoiceField(choices=list(EVENT_TYPES)), min_length=1, required=False
    )
    name = serializers.CharField(max_length=100, required=False, allow_blank=True)
    active = serializers.BooleanField(required=False)
    rotate_secret = serializers.BooleanField(required=False, default=False)


_SUBSCRIPTION_FIELDS: tuple[str, ...] = ("id", "name", "url", "event_types", "active", "created_at", "updated_at")


class SubscriptionOutputSerializer(serializers.ModelSerializer[WebhookSubscription]):
    class Meta:
        model = WebhookSubscription
        fields: tuple[str, ...] = _SUBSCRIPTION_FIELDS
        read_only_fields: tuple[str, ...] = _SUBSCRIPTION_FIELDS


class SubscriptionWithSecretSerializer(SubscriptionOutputSerializer):
    secret = serializers.SerializerMethodField(help_text="signing secret; returned only at creation or rotation")

    class Meta(SubscriptionOutputSerializer.Meta):
        fields = (*_SUBSCRIPTION_FIELDS, "secret")
        read_only_fields = (*_SUBSCRIPTION_FIELDS, "secret")

    def get_secret(self, obj: WebhookSubscription) -> str:
        return str(self.context.get("secret", ""))


class DeliveryOutputSerializer(serializers.ModelSerializer[WebhookDelivery]):
    subscription_id = serializers.UUIDField()

    class Meta:
        model = WebhookDelivery
        fields = (
            "id",
            "subscription_id",
            "event_id",
            "event_type",
            "status",
            "attempts",
            "max_attempts",
            "next_attempt_at",
            "last_attempt_at",
            "last_response_code",
            "last_error",
            "delivered_at",
            "replays",
            "payload",
            "created_at",
        )
        read_only_fields = fields


class DeliveryFilterSerializer(serializers.Serializer[dict[str, Any]]):
    status = serializers.ChoiceField(choices=DeliveryStatus.choices, required=False)
    subscription = serializers.UUIDField(required=False)
    limit = serializers.IntegerField(min_value=1, max_value=200, required=False, default=50)
