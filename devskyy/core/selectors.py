"""Reads of core data (API keys, audit log, credentials)."""

from __future__ import annotations

from django.db.models import QuerySet

from devskyy.core.models import APIKey, AuditLog, ProviderCredential


def api_key_list() -> QuerySet[APIKey]:
    return APIKey.objects.select_related("created_by").order_by("-created")


def audit_log_list(*, action: str | None = None, actor_label: str | None = None) -> QuerySet[AuditLog]:
    queryset = AuditLog.objects.select_related("actor").order_by("-created_at", "-id")
    if action:
        queryset = queryset.filter(action=action)
    if actor_label:
        queryset = queryset.filter(actor_label=actor_label)
    return queryset


def credential_secret(name: str) -> str | None:
    """The plaintext of a stored secret, for the code that uses it; None if unset."""
    credential = ProviderCredential.objects.filter(name=name).only("secret").first()
    return credential.secret if credential is not None else None
