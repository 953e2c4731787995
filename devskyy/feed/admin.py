"""Stored feed events, read-only: what /ws/<channel> sent and what a resume replays."""

from __future__ import annotations

from typing import Any

from django.contrib import admin

from devskyy.core.admin_display import pretty_json
from devskyy.feed.models import FeedEvent


@admin.register(FeedEvent)
class FeedEventAdmin(admin.ModelAdmin[FeedEvent]):
    list_display = ("seq", "channel", "type", "agent_id", "task_id", "owner_id", "created_at")
    list_filter = ("channel", "type")
    search_fields = ("=agent_id", "=task_id")
    show_full_result_count = False
    ordering = ("-seq",)
    list_per_page = 100
    fields = ("seq", "channel", "type", "agent_id", "task_id", "owner_id", "created_at", "payload_pretty")
    readonly_fields = fields

    @admin.display(description="payload")
    def payload_pretty(self, obj: FeedEvent) -> Any:
        return pretty_json(obj.payload)

    def has_add_permission(self, request: object) -> bool:
        return False

    def has_change_permission(self, request: object, obj: object = None) -> bool:
        return False

    def has_delete_permission(self, request: object, obj: object = None) -> bool:
        return False  # retention (purge_events) removes them, never an operator
