"""Input and output shapes of the marketing campaign API (parsing only; rules live in
agents_app.marketing.services and .audience)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from rest_framework import serializers

from agents_app.marketing.models import CampaignStatus, CampaignType, Channel, MessageStatus


class AwareDateTimeField(serializers.DateTimeField):
    """ISO-8601 with an explicit offset; a naive time would silently mean the server's zone."""

    def to_internal_value(self, value: Any) -> datetime:
        if isinstance(value, str):
            try:
                parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
            except ValueError:
                self.fail("invalid", format="ISO-8601 with a timezone, e.g. 2025-06-01T09:00:00Z")
            if parsed.tzinfo is None or parsed.utcoffset() is None:
                raise serializers.ValidationError("needs a timezone offset (e.g. 2025-06-01T09:00:00Z).")
            return parsed
        self.fail("invalid", format="ISO-8601 with a timezone, e.g. 2025-06-01T09:00:00Z")
        raise AssertionError  # pragma: no cover - fail() raises


class ScheduleSerializer(serializers.Serializer[dict[str, Any]]):
    send_at = AwareDateTimeField(required=False, allow_null=True, help_text="when to send; omitted = once written")


class CampaignInputSerializer(serializers.Serializer[dict[str, Any]]):
    name = serializers.CharField(required=False, allow_blank=True, max_length=200)
    campaign_type = serializers.ChoiceField(choices=CampaignType.choices)
    target_audience = serializers.JSONField(
        required=False, allow_null=True, help_text="audience filter (see README: unknown keys are refused)"
    )
    content_template = serializers.CharField(max_length=5000, help_text="brief for the agent, with {placeholders}")
    schedule = ScheduleSerializer(required=False, allow_null=True)
    budget = serializers.DecimalField(max_digits=12, decimal_places=2, required=False, allow_null=True)
    ab_test = serializers.JSONField(required=False, allow_null=True, help_text='{"variants": 2..4, "split": [50, 50]}')

    def validate_target_audience(self, value: Any) -> Any:
        if value is not None and not isinstance(value, dict):
            raise serializers.ValidationError("must be a JSON object.")
        return value

    def validate_ab_test(self, value: Any) -> Any:
        if value is not None and not isinstance(value, dict):
            raise serializers.ValidationError("must be a JSON object.")
        return value


class CampaignFilterSerializer(serializers.Serializer[dict[str, Any]]):
    status = serializers.ChoiceField(choices=CampaignStatus.choices, required=False)
    campaign_type = serializers.ChoiceField(choices=CampaignType.choices, required=False)


class MessageFilterSerializer(serializers.Serializer[dict[str, Any]]):
    status = serializers.ChoiceField(choices=MessageStatus.choices, required=False)
    channel = serializers.ChoiceField(choices=Channel.choices, required=False)


class AudiencePreviewInputSerializer(serializers.Serializer[dict[str, Any]]):
    target_audience = serializers.JSONField()
    sample = serializers.IntegerField(required=False, min_value=0, max_value=50, default=10)

    def validate_target_audience(self, value: Any) -> Any:
        if not isinstance(value, dict):
            raise serializers.ValidationError("must be a JSON object.")
        return value


class AudienceSampleSerializer(serializers.Serializer[dict[str, Any]]):
    customer_id = serializers.IntegerField()
    email = serializers.EmailField()
    name = serializers.CharField()
    country = serializers.CharField()
    accepts_marketing = serializers.BooleanField()


class AudiencePreviewOutputSerializer(serializers.Serializer[dict[str, Any]]):
    size = serializers.IntegerField()
    resolved_at = serializers.DateTimeField()
    filter = serializers.JSONField()
    sample = AudienceSampleSerializer(many=True)


class VariantOutputSerializer(serializers.Serializer[Any]):
    label = serializers.CharField()  # type: ignore[assignment]  # a field named like Field.label
    weight = serializers.IntegerField(help_text="percent of recipients")
    subject = serializers.CharField()
    email_body = serializers.CharField()
    sms_body = serializers.CharField()
    social_body = serializers.CharField()
    provider = serializers.CharField()
    model = serializers.CharField()
    cost_usd = serializers.DecimalField(max_digits=12, decimal_places=6)
    removed_placeholders = serializers.JSONField()


class CampaignOutputSerializer(serializers.Serializer[Any]):
    id = serializers.UUIDField()
    name = serializers.CharField()
    campaign_type = serializers.CharField()
    channels = serializers.ListField(child=serializers.CharField())
    status = serializers.CharField()
    target_audience = serializers.JSONField()
    audience_size = serializers.IntegerField(help_text="customers matched when the campaign was created")
    audience_resolved_at = serializers.DateTimeField()
    content_template = serializers.CharField()
    send_at = serializers.DateTimeField()
    budget = serializers.DecimalField(max_digits=12, decimal_places=2, allow_null=True)
    ab_test = serializers.JSONField()
    agent_id = serializers.CharField(source="agent_slug")
    copy_task_id = serializers.UUIDField(allow_null=True)
    variants = VariantOutputSerializer(many=True, source="variants.all")
    created_by = serializers.CharField(source="created_by.username", allow_null=True, default=None)
    error = serializers.CharField()
    error_code = serializers.CharField()
    created_at = serializers.DateTimeField()
    scheduled_at = serializers.DateTimeField(allow_null=True)
    started_at = serializers.DateTimeField(allow_null=True)
    finished_at = serializers.DateTimeField(allow_null=True)


class VariantResultSerializer(serializers.Serializer[dict[str, Any]]):
    label = serializers.CharField()  # type: ignore[assignment]  # a field named like Field.label
    messages = serializers.JSONField(help_text="channel -> status -> count")
    recipients_sent = serializers.IntegerField()
    attributed_orders = serializers.IntegerField()
    attributed_customers = serializers.IntegerField()
    attributed_revenue = serializers.DecimalField(max_digits=14, decimal_places=2)
    conversion_rate_pct = serializers.FloatField(allow_null=True)


class ResultsOutputSerializer(serializers.Serializer[dict[str, Any]]):
    messages = serializers.DictField(child=serializers.IntegerField(), help_text="status -> count")
    variants = VariantResultSerializer(many=True)
    attributed_orders = serializers.IntegerField()
    attributed_revenue = serializers.DecimalField(max_digits=14, decimal_places=2)
    attribution_window_days = serializers.IntegerField()
    spend_usd = serializers.DecimalField(max_digits=14, decimal_places=6)
    budget = serializers.DecimalField(max_digits=12, decimal_places=2, allow_null=True)
    tracking = serializers.CharField()


class CampaignDetailSerializer(CampaignOutputSerializer):
    results = ResultsOutputSerializer()


class MessageOutputSerializer(serializers.Serializer[Any]):
    id = serializers.IntegerField()
    variant = serializers.CharField(source="variant.label")
    customer_id = serializers.IntegerField(allow_null=True)
    channel = serializers.CharField()
    recipient = serializers.CharField()
    subject = serializers.CharField()
    body = serializers.CharField()
    status = serializers.CharField(help_text="sent = accepted by a backend; recorded = kept here only, not sent")
    status_label = serializers.CharField(source="get_status_display")
    reason = serializers.CharField()
    backend = serializers.CharField()
    provider_message_id = serializers.CharField()
    error = serializers.CharField()
    created_at = serializers.DateTimeField()
    sent_at = serializers.DateTimeField(allow_null=True)
