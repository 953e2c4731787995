"""Admin for outbound webhooks: subscriptions (secret never shown) and deliveries with replay."""

from __future__ import annotations

from typing import Any

from django.contrib import admin, messages
from django.db.models import QuerySet
from django.http import HttpRequest

from devskyy.core.errors import ConflictError
from devskyy.webhooks import services
from devskyy.webhooks.models import WebhookDelivery, WebhookSubscription


@admin.register(WebhookSubscription)
class WebhookSubscriptionAdmin(admin.ModelAdmin[WebhookSubscription]):
    list_display = ("name", "url", "active", "created_at")
    list_filter = ("active",)
    search_fields = ("name", "url")
    readonly_fields = ("id", "url", "event_types", "created_by", "created_at", "updated_at")
    fields = ("id", "name", "url", "event_types", "active", "created_by", "created_at", "updated_at")
    list_select_related = ("created_by",)

    def has_add_permission(self, request: HttpRequest) -> bool:
        # Created through the API, which vets the URL and shows the secret once.
        return False


@admin.register(WebhookDelivery)
class WebhookDeliveryAdmin(admin.ModelAdmin[WebhookDelivery]):
    list_display = ("created_at", "event_type", "subscription", "status", "attempts", "last_response_code")
    list_filter = ("status", "event_type", "created_at")
    search_fields = ("=id", "=event_id", "event_type", "subscription__url")
    list_select_related = ("subscription",)
    show_full_result_count = False
    readonly_fields = [f.name for f in WebhookDelivery._meta.fields]
    ordering = ("-created_at",)
    actions = ("replay_deliveries",)

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    @admin.action(description="Replay selected deliveries (dead or delivered)")
    def replay_deliveries(self, request: HttpRequest, queryset: QuerySet[WebhookDelivery]) -> None:
        replayed, skipped = 0, 0
        for delivery in queryset.select_related("subscription"):
            try:
                services.delivery_replay(delivery=delivery, actor=request.user, request=request)
                replayed += 1
            except ConflictError:
                skipped += 1
        self.message_user(request, f"Replayed {replayed} deliveries; {skipped} still in progress were skipped.")
        if skipped:
            self.message_user(request, "Deliveries in progress cannot be replayed.", level=messages.WARNING)
