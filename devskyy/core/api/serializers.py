"""Explicit input and output shapes of the core API (auth, API keys, audit log)."""

from __future__ import annotations

from rest_framework import serializers

from devskyy.core.roles import ROLE_CHOICES


class ErrorBodySerializer(serializers.Serializer[object]):
    code = serializers.CharField()
    message = serializers.CharField()
    details = serializers.JSONField()
    request_id = serializers.CharField()


class ErrorEnvelopeSerializer(serializers.Serializer[object]):
    error = ErrorBodySerializer()


class TokenObtainInputSerializer(serializers.Serializer[object]):
    username = serializers.CharField(max_length=150)
    password = serializers.CharField(max_length=4096, trim_whitespace=False, style={"input_type": "password"})


class RefreshInputSerializer(serializers.Serializer[object]):
    refresh = serializers.CharField(max_length=4096)


class TokenPairOutputSerializer(serializers.Serializer[object]):
    access = serializers.CharField()
    refresh = serializers.CharField()
    token_type = serializers.CharField(default="Bearer")
    access_expires_at = serializers.DateTimeField()
    refresh_expires_at = serializers.DateTimeField()


class MeUserSerializer(serializers.Serializer[object]):
    id = serializers.IntegerField()
    username = serializers.CharField()
    email = serializers.CharField()


class MeAPIKeySerializer(serializers.Serializer[object]):
    prefix = serializers.CharField()
    name = serializers.CharField()
    expires_at = serializers.DateTimeField(allow_null=True)


class MeOutputSerializer(serializers.Serializer[object]):
    user = MeUserSerializer(allow_null=True)
    api_key = MeAPIKeySerializer(allow_null=True)
    roles = serializers.ListField(child=serializers.ChoiceField(choices=ROLE_CHOICES))
    auth_method = serializers.ChoiceField(choices=["jwt", "api_key", "session"])
    token_expires_at = serializers.DateTimeField(allow_null=True)


class APIKeyCreateInputSerializer(serializers.Serializer[object]):
    name = serializers.CharField(max_length=50)
    role = serializers.ChoiceField(choices=ROLE_CHOICES)
    expires_days = serializers.IntegerField(min_value=1, max_value=3650, required=False, allow_null=True)


class APIKeyOutputSerializer(serializers.Serializer[object]):
    prefix = serializers.CharField()
    name = serializers.CharField()
    role = serializers.CharField()
    created = serializers.DateTimeField()
    expiry_date = serializers.DateTimeField(allow_null=True)
    revoked = serializers.BooleanField()
    last_used_at = serializers.DateTimeField(allow_null=True)


class APIKeyCreatedOutputSerializer(APIKeyOutputSerializer):
    key = serializers.CharField(help_text="The key itself: shown this once, stored only as a hash.")


class AuditLogOutputSerializer(serializers.Serializer[object]):
    id = serializers.IntegerField()
    created_at = serializers.DateTimeField()
    actor_label = serializers.CharField()
    action = serializers.CharField()
    target_type = serializers.CharField()
    target_id = serializers.CharField()
    request_id = serializers.CharField()
    ip = serializers.IPAddressField(allow_null=True)
    details = serializers.JSONField()
