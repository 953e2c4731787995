from __future__ import annotations

from django.contrib import admin

from devskyy.feed.models import FeedEvent


@admin.register(FeedEvent)
class FeedEventAdmin(admin.ModelAdmin[FeedEvent]):
    list_display = ("seq", "channel", "type", "agent_id", "task_id", "owner_id", "created_at")
    list_filter = ("channel", "type")
    search_fields = ("agent_id", "task_id")
    show_full_result_count = False

    def has_add_permission(self, request: object) -> bool:
        return False

    def has_change_permission(self, request: object, obj: object = None) -> bool:
        return False
