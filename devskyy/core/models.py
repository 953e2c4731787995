"""Core data: the audit trail, API keys for service clients, and stored secrets."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from rest_framework_api_key.models import AbstractAPIKey

from devskyy.core.fields import EncryptedTextField
from devskyy.core.roles import Role


class AuditLog(models.Model):
    """One security-relevant action or event; append-only (written by ``audit_record``).

    ``actor`` is the user who acted, when there is one; ``actor_label`` names the
    actor in words that survive the user's deletion (``user:alice``,
    ``api_key:ab12cd34``, ``anonymous``). ``action`` is a dotted verb such as
    ``auth.login.failed``; ``target_type``/``target_id`` name what it acted on.
    ``request_id`` ties the row to the request's log lines. Never holds secrets.
    """

    created_at = models.DateTimeField(auto_now_add=True, db_index=True)
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    actor_label = models.CharField(max_length=150, blank=True)
    action = models.CharField(max_length=64)
    target_type = models.CharField(max_length=64, blank=True)
    target_id = models.CharField(max_length=150, blank=True)
    request_id = models.CharField(max_length=128, blank=True)
    ip = models.GenericIPAddressField(null=True, blank=True)
    details = models.JSONField(default=dict, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [models.Index(fields=["action", "-created_at"], name="core_audit_action_time")]
        verbose_name = "audit log entry"
        verbose_name_plural = "audit log"

    def __str__(self) -> str:
        return f"{self.created_at:%Y-%m-%d %H:%M:%S} {self.action} by {self.actor_label or '-'}"


class APIKey(AbstractAPIKey):
    """A service client's key: shown once, stored as a SHA-512 hash, scoped to one role.

    ``revoked`` (irreversible) and ``expiry_date`` are checked on every request, so
    revocation takes effect at once. ``last_used_at`` is refreshed at most once a
    minute per key.
    """

    role = models.CharField(max_length=16, choices=[(r.value, r.value) for r in Role], default=Role.API_USER.value)
    last_used_at = models.DateTimeField(null=True, blank=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )

    class Meta(AbstractAPIKey.Meta):
        verbose_name = "API key"
        verbose_name_plural = "API keys"


class CredentialKind(models.TextChoices):
    LLM_API_KEY = "llm_api_key", "LLM provider API key"
    PROVIDER_TOKEN = "provider_token", "Other provider token"
    WEBHOOK_SECRET = "webhook_secret", "Webhook signing secret"


class ProviderCredential(models.Model):
    """A named secret the platform uses to call out or verify calls in.

    ``name`` is the stable handle code asks for (``openai``, ``woocommerce_webhook``).
    ``secret`` is encrypted at rest and never rendered in admin or API output.
    """

    name = models.SlugField(max_length=64, unique=True)
    kind = models.CharField(max_length=32, choices=CredentialKind.choices)
    description = models.CharField(max_length=200, blank=True)
    secret = EncryptedTextField()
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)
    updated_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return f"{self.name} ({self.kind})"


class RevokedAccessToken(models.Model):
    """A logged-out JWT access token, refused until it would have expired by itself.

    Kept in the database, not only in Redis, so a logout outlives a Redis restart
    that lost its data, and is known while Redis is unreachable. Rows whose token has
    expired are deleted by the next logout (``devskyy.core.tokens``)."""

    jti = models.CharField(max_length=255, primary_key=True)
    user_id = models.CharField(max_length=64)
    revoked_at = models.DateTimeField(auto_now_add=True)
    expires_at = models.DateTimeField(db_index=True)

    class Meta:
        verbose_name = "revoked access token"

    def __str__(self) -> str:
        return f"{self.jti} (user {self.user_id}, until {self.expires_at:%Y-%m-%d %H:%M:%S})"
