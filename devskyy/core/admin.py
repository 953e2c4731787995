"""Admin for the core models: audit log (read-only), API keys, stored secrets.

Writes go through services (audit rows, validation); secrets are never rendered.
"""

from __future__ import annotations

from typing import Any

from django import forms
from django.contrib import admin, messages
from django.db.models import QuerySet
from django.http import HttpRequest
from rest_framework_api_key.models import APIKey as LibraryAPIKey

from devskyy.core import api_keys, credentials
from devskyy.core.admin_display import ReadOnlyAdminMixin, pretty_json
from devskyy.core.audit import SECURITY_ACTIONS
from devskyy.core.models import APIKey, AuditLog, CredentialKind, ProviderCredential, RevokedAccessToken

# The library's own concrete model is unused (ours adds role and last use): hide it.
if admin.site.is_registered(LibraryAPIKey):
    admin.site.unregister(LibraryAPIKey)


class SecurityEventFilter(admin.SimpleListFilter):
    """Security events (failed logins, throttling, denied sockets, bad signatures, SSRF)
    are audit rows with one of the SECURITY_ACTIONS; this filter shows them apart."""

    title = "kind"
    parameter_name = "kind"

    def lookups(self, request: HttpRequest, model_admin: Any) -> list[tuple[str, str]]:
        return [("security", "Security events"), ("operations", "Everything else")]

    def queryset(self, request: HttpRequest, queryset: QuerySet[AuditLog]) -> QuerySet[AuditLog]:
        security = list(SECURITY_ACTIONS.values())
        if self.value() == "security":
            return queryset.filter(action__in=security)
        if self.value() == "operations":
            return queryset.exclude(action__in=security)
        return queryset


@admin.register(AuditLog)
class AuditLogAdmin(ReadOnlyAdminMixin, admin.ModelAdmin[AuditLog]):
    list_display = ("created_at", "action", "actor_label", "target_type", "target_id", "ip", "request_id")
    list_filter = (SecurityEventFilter, "action", "target_type", "created_at")
    search_fields = ("action", "actor_label", "target_id", "request_id")
    list_select_related = ("actor",)
    show_full_result_count = False
    readonly_fields = (*(f.name for f in AuditLog._meta.fields if f.name != "details"), "details_pretty")
    ordering = ("-created_at", "-id")
    list_per_page = 100

    @admin.display(description="details")
    def details_pretty(self, obj: AuditLog) -> Any:
        return pretty_json(obj.details)


@admin.register(RevokedAccessToken)
class RevokedAccessTokenAdmin(ReadOnlyAdminMixin, admin.ModelAdmin[RevokedAccessToken]):
    """Logged-out access tokens still within their lifetime: read only (a logout is
    not undone; rows go by themselves once the token has expired)."""

    list_display = ("jti", "user_id", "revoked_at", "expires_at")
    search_fields = ("jti", "user_id")
    ordering = ("-revoked_at",)


class APIKeyAddForm(forms.ModelForm[APIKey]):
    expires_days = forms.IntegerField(min_value=1, max_value=3650, required=False, help_text="Empty: never expires.")

    class Meta:
        model = APIKey
        fields = ("name", "role")


@admin.register(APIKey)
class APIKeyAdmin(admin.ModelAdmin[APIKey]):
    list_display = ("prefix", "name", "role", "created", "expiry_date", "last_used_at", "revoked")
    list_filter = ("role", "revoked", "created")
    search_fields = ("name", "prefix")
    list_select_related = ("created_by",)
    actions = ("revoke_selected",)

    def get_form(self, request: HttpRequest, obj: Any = None, change: bool = False, **kwargs: Any) -> Any:
        if obj is None:
            kwargs["form"] = APIKeyAddForm
        return super().get_form(request, obj, change=change, **kwargs)

    def get_fields(self, request: HttpRequest, obj: Any = None) -> Any:
        if obj is None:
            return ("name", "role", "expires_days")
        return ("prefix", "name", "role", "created", "expiry_date", "last_used_at", "revoked", "created_by")

    def get_readonly_fields(self, request: HttpRequest, obj: Any = None) -> Any:
        if obj is None:
            return ()
        # Keys are immutable once issued; revoke and issue a new one instead.
        return ("prefix", "name", "role", "created", "expiry_date", "last_used_at", "revoked", "created_by")

    def save_model(self, request: HttpRequest, obj: APIKey, form: Any, change: bool) -> None:
        if change:
            return
        created = api_keys.api_key_create(
            name=obj.name, role=obj.role, expires_days=form.cleaned_data.get("expires_days"), actor=request.user
        )
        obj.pk = created.api_key.pk
        obj.prefix = created.api_key.prefix
        messages.warning(request, f"API key for {obj.name!r}: {created.key} — copy it now, it will not be shown again.")

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False  # revoke instead: the row stays as the record of the key

    @admin.action(description="Revoke selected API keys")
    def revoke_selected(self, request: HttpRequest, queryset: QuerySet[APIKey]) -> None:
        count = 0
        for prefix in queryset.filter(revoked=False).values_list("prefix", flat=True):
            api_keys.api_key_revoke(prefix=prefix, actor=request.user)
            count += 1
        self.message_user(request, f"Revoked {count} API key(s).")


class CredentialForm(forms.ModelForm[ProviderCredential]):
    new_secret = forms.CharField(
        required=False,
        strip=False,
        widget=forms.PasswordInput(render_value=False),
        help_text="Write-only. Leave empty to keep the stored secret.",
    )

    class Meta:
        model = ProviderCredential
        fields = ("name", "kind", "description")

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean() or {}
        if self.instance.pk is None and not cleaned.get("new_secret"):
            self.add_error("new_secret", "A new credential needs a secret.")
        return cleaned


@admin.register(ProviderCredential)
class ProviderCredentialAdmin(admin.ModelAdmin[ProviderCredential]):
    form = CredentialForm
    list_display = ("name", "kind", "description", "updated_at", "updated_by")
    list_filter = ("kind",)
    search_fields = ("name", "description")
    list_select_related = ("updated_by",)

    def get_readonly_fields(self, request: HttpRequest, obj: Any = None) -> Any:
        return ("name",) if obj is not None else ()

    def save_model(self, request: HttpRequest, obj: ProviderCredential, form: Any, change: bool) -> None:
        secret = form.cleaned_data.get("new_secret")
        if not secret:
            # Only the description or kind changed: keep the stored secret as it is.
            stored = ProviderCredential.objects.get(pk=obj.pk).secret
            secret = stored
        saved = credentials.credential_set(
            name=obj.name,
            kind=obj.kind or CredentialKind.PROVIDER_TOKEN,
            secret=secret,
            description=obj.description,
            actor=request.user,
        )
        obj.pk = saved.pk

    def delete_model(self, request: HttpRequest, obj: ProviderCredential) -> None:
        credentials.credential_delete(name=obj.name, actor=request.user)

    def delete_queryset(self, request: HttpRequest, queryset: QuerySet[ProviderCredential]) -> None:
        for name in queryset.values_list("name", flat=True):
            credentials.credential_delete(name=name, actor=request.user)
