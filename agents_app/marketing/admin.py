"""Operator console for campaigns: create through the service, send now, cancel, results.

Registered on the default admin site (imported by agents_app/admin.py). Every write
goes through agents_app.marketing.services; the message table is the outbox (read
only, filters by status and channel, no full count).
"""

from __future__ import annotations

import json
from decimal import Decimal
from typing import Any

from django import forms
from django.contrib import admin, messages
from django.core.exceptions import ValidationError
from django.db.models import Count, Q, QuerySet
from django.http import HttpRequest
from django.utils.html import format_html, format_html_join
from django.utils.safestring import SafeString

from agents_app.marketing import services
from agents_app.marketing.models import Campaign, CampaignMessage, CampaignStatus, CampaignVariant, MessageStatus
from agents_app.marketing.selectors import campaign_results
from agents_app.tools.integrations import require
from devskyy.core.admin_display import ReadOnlyAdminMixin, pretty_json
from devskyy.core.errors import DomainError


def _json_field(label: str, help_text: str) -> forms.CharField:
    return forms.CharField(
        label=label,
        required=False,
        initial="{}",
        help_text=help_text,
        widget=forms.Textarea(attrs={"rows": 4, "cols": 80, "spellcheck": "false"}),
    )


class CampaignCreateForm(forms.ModelForm[Campaign]):
    """The API's fields; checked by the same service validation, then created by
    ``campaign_create`` (which queues the agent's copy task)."""

    audience = _json_field(
        "Target audience",
        'e.g. {"segment": "champions", "countries": ["US"]}; keys: segment, min_orders, min_total_spent, '
        "ordered_within_days, not_ordered_within_days, purchased_product_ids, purchased_categories, countries, "
        "accepts_marketing",
    )
    ab = _json_field("A/B test", 'empty for one variant, or {"variants": 2, "split": [50, 50]}')

    class Meta:
        model = Campaign
        fields = ("name", "campaign_type", "content_template", "send_at", "budget")

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["send_at"].required = False
        self.fields["send_at"].help_text = "empty: send as soon as the copy is written"
        self.fields["name"].required = False

    def _json(self, name: str) -> dict[str, Any] | None:
        raw = (self.cleaned_data.get(name) or "").strip()
        if not raw:
            return None
        try:
            value = json.loads(raw)
        except json.JSONDecodeError as exc:
            raise ValidationError({name: f"Not valid JSON: {exc.msg}."}) from None
        if not isinstance(value, dict):
            raise ValidationError({name: "A JSON object, please."})
        return value or None

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean() or {}
        cleaned["target_audience"], cleaned["ab_test"] = self._json("audience"), self._json("ab")
        if self.errors:
            return cleaned
        try:
            services.campaign_validate(
                name=cleaned.get("name", ""),
                campaign_type=cleaned.get("campaign_type", ""),
                target_audience=cleaned["target_audience"],
                content_template=cleaned.get("content_template", ""),
                send_at=cleaned.get("send_at"),
                budget=cleaned.get("budget"),
                ab_test=cleaned["ab_test"],
            )
            require("llm")
        except DomainError as exc:
            errors = (exc.details or {}).get("errors") if isinstance(exc.details, dict) else None
            raise ValidationError(
                [f"{e['path']}: {e['message']}" for e in errors] if errors else [exc.message]
            ) from None
        return cleaned


class CampaignVariantInline(admin.StackedInline[CampaignVariant, Campaign]):
    model = CampaignVariant
    extra = 0
    fields = ("label", "weight", "subject", "email_body", "sms_body", "social_body", "provider", "model", "cost_usd")
    readonly_fields = fields

    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


def _count(status: str) -> Count:
    return Count("messages", filter=Q(messages__status=status))


@admin.register(Campaign)
class CampaignAdmin(admin.ModelAdmin[Campaign]):
    list_display = (
        "name",
        "campaign_type",
        "status",
        "send_at",
        "audience_size",
        "sent",
        "recorded_not_sent",
        "failed",
        "skipped",
        "agent_slug",
        "created_by",
        "created_at",
    )
    list_filter = ("status", "campaign_type", "created_at")
    search_fields = ("name", "=id")
    list_select_related = ("created_by",)
    date_hierarchy = "created_at"
    show_full_result_count = False
    list_per_page = 50
    inlines = (CampaignVariantInline,)
    actions = ("send_now", "cancel_campaigns")
    fieldsets = (
        (None, {"fields": ("id", "name", "campaign_type", "status", "agent_slug", "copy_task", "error_code", "error")}),
        ("Audience", {"fields": ("audience_pretty", "audience_size", "audience_resolved_at")}),
        ("Brief and A/B test", {"fields": ("content_template", "ab_test", "budget")}),
        ("Schedule", {"fields": ("send_at", "scheduled_at", "started_at", "finished_at")}),
        ("Results", {"fields": ("results_summary",)}),
        ("Origin", {"fields": ("created_by", "created_at")}),
    )
    readonly_fields = (
        *(f.name for f in Campaign._meta.fields if f.name != "target_audience"),
        "audience_pretty",
        "results_summary",
    )

    def get_queryset(self, request: HttpRequest) -> QuerySet[Campaign]:
        return (
            super()
            .get_queryset(request)
            .annotate(
                n_sent=_count(MessageStatus.SENT),
                n_recorded=_count(MessageStatus.RECORDED),
                n_failed=_count(MessageStatus.FAILED),
                n_skipped=_count(MessageStatus.SKIPPED),
            )
        )

    def get_form(self, request: HttpRequest, obj: Campaign | None = None, change: bool = False, **kwargs: Any) -> Any:
        if obj is None:
            kwargs["form"] = CampaignCreateForm
        return super().get_form(request, obj, change=change, **kwargs)

    def get_fieldsets(self, request: HttpRequest, obj: Campaign | None = None) -> Any:
        if obj is None:
            return (
                (
                    None,
                    {"fields": ("name", "campaign_type", "audience", "content_template", "send_at", "budget", "ab")},
                ),
            )
        return super().get_fieldsets(request, obj)

    def get_readonly_fields(self, request: HttpRequest, obj: Campaign | None = None) -> Any:
        return () if obj is None else self.readonly_fields

    def get_inlines(self, request: HttpRequest, obj: Campaign | None) -> Any:
        return self.inlines if obj is not None else ()

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False  # the record of what was sent to customers

    def save_model(self, request: HttpRequest, obj: Campaign, form: Any, change: bool) -> None:
        if change:  # every field is read-only once created; nothing to save
            return
        data = form.cleaned_data
        created = services.campaign_create(
            name=data.get("name", ""),
            campaign_type=data["campaign_type"],
            target_audience=data["target_audience"],
            content_template=data["content_template"],
            send_at=data.get("send_at"),
            budget=data.get("budget"),
            ab_test=data["ab_test"],
            user=request.user,
        )
        # The admin goes on with ``obj`` (log entry, redirect): make it the created row.
        for field in Campaign._meta.concrete_fields:
            setattr(obj, field.attname, getattr(created, field.attname))
        obj._state.adding = False
        obj._state.db = created._state.db

    @admin.display(description="sent", ordering="n_sent")
    def sent(self, obj: Any) -> int:
        return int(obj.n_sent)

    @admin.display(description="recorded (not sent)", ordering="n_recorded")
    def recorded_not_sent(self, obj: Any) -> int:
        return int(obj.n_recorded)

    @admin.display(description="failed", ordering="n_failed")
    def failed(self, obj: Any) -> int:
        return int(obj.n_failed)

    @admin.display(description="skipped", ordering="n_skipped")
    def skipped(self, obj: Any) -> int:
        return int(obj.n_skipped)

    @admin.display(description="target audience")
    def audience_pretty(self, obj: Campaign) -> SafeString:
        return pretty_json(obj.target_audience)

    @admin.display(description="results")
    def results_summary(self, obj: Campaign) -> SafeString:
        results = campaign_results(obj)
        rows = format_html_join(
            "",
            "<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
            (
                (
                    v["label"],
                    "; ".join(
                        f"{channel}: " + ", ".join(f"{n} {status}" for status, n in sorted(statuses.items()))
                        for channel, statuses in v["messages"].items()
                    )
                    or "-",
                    v["recipients_sent"],
                    v["attributed_orders"],
                    v["attributed_revenue"],
                    "-" if v["conversion_rate_pct"] is None else f"{v['conversion_rate_pct']}%",
                )
                for v in results["variants"]
            ),
        )
        spend: Decimal = results["spend_usd"]
        return format_html(
            "<table><tr><th>variant</th><th>messages</th><th>sent to</th><th>attributed orders</th>"
            "<th>attributed revenue</th><th>conversion</th></tr>{}</table>"
            "<p>Spend {} USD{}; attribution window {} days. {}</p>",
            rows,
            spend,
            f" of a {obj.budget} budget" if obj.budget is not None else "",
            results["attribution_window_days"],
            results["tracking"],
        )

    @admin.action(description="Send selected scheduled campaigns now")
    def send_now(self, request: HttpRequest, queryset: QuerySet[Campaign]) -> None:
        done = 0
        for campaign in queryset.filter(status=CampaignStatus.SCHEDULED).order_by():
            try:
                services.campaign_send_now(campaign=campaign, user=request.user)
            except DomainError as exc:
                self.message_user(request, f"{campaign.name}: {exc.message}", messages.WARNING)
                continue
            done += 1
        skipped = queryset.exclude(status=CampaignStatus.SCHEDULED).count()
        note = f"; {skipped} not scheduled, left alone" if skipped else ""
        self.message_user(request, f"Queued {done} campaign(s) for sending{note}.")

    @admin.action(description="Cancel selected campaigns")
    def cancel_campaigns(self, request: HttpRequest, queryset: QuerySet[Campaign]) -> None:
        done = 0
        for campaign in queryset.order_by():
            try:
                services.campaign_cancel(campaign=campaign, user=request.user)
            except DomainError as exc:
                self.message_user(request, f"{campaign.name}: {exc.message}", messages.WARNING)
                continue
            done += 1
        self.message_user(request, f"Cancelled {done} campaign(s).")


@admin.register(CampaignMessage)
class CampaignMessageAdmin(ReadOnlyAdminMixin, admin.ModelAdmin[CampaignMessage]):
    """The outbox, read-only. ``recorded`` means kept here only: no provider sent it."""

    list_display = ("id", "campaign", "variant_label", "channel", "recipient", "status", "reason", "sent_at")
    list_filter = ("status", "channel")
    search_fields = ("=recipient", "=campaign__id")
    list_select_related = ("campaign", "variant")
    show_full_result_count = False
    list_per_page = 100
    readonly_fields = tuple(f.name for f in CampaignMessage._meta.fields)
    raw_id_fields = ("customer",)

    @admin.display(description="variant")
    def variant_label(self, obj: CampaignMessage) -> str:
        return obj.variant.label
