"""Operator console for 3D and try-on jobs: find them by kind, status and provider,
open their files, cancel or retry them (through the services)."""

from __future__ import annotations

from typing import Any

from django.contrib import admin, messages
from django.db.models import QuerySet
from django.http import HttpRequest
from django.utils.html import format_html, format_html_join
from django.utils.safestring import SafeString

from agents_app.media.events import file_payload
from agents_app.media.models import ACTIVE_STATUSES, MediaFile, MediaJob, MediaStatus
from agents_app.media.services.jobs import media_job_cancel, media_job_retry
from devskyy.core.admin_display import pretty_json
from devskyy.core.errors import DomainError


class MediaFileInline(admin.TabularInline[MediaFile, MediaJob]):
    model = MediaFile
    extra = 0
    can_delete = False
    fields = ("role", "download", "content_type", "size", "sha256", "source_url_host", "created_at", "purged_at")
    readonly_fields = fields

    @admin.display(description="file")
    def download(self, obj: MediaFile) -> SafeString:
        if obj.purged_at:
            return format_html("{} (purged)", obj.name)
        return format_html('<a href="{}">{}</a>', file_payload(obj.job, obj)["download_url"], obj.name)

    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


@admin.register(MediaJob)
class MediaJobAdmin(admin.ModelAdmin[MediaJob]):
    list_display = (
        "id",
        "kind",
        "provider",
        "status",
        "stage",
        "progress",
        "product",
        "cost_usd",
        "error_code",
        "owner",
        "agent_slug",
        "created_at",
    )
    list_filter = ("status", "kind", "provider", "error_code", "created_at")
    search_fields = ("=id", "=provider_task_id", "prompt", "product__sku", "owner", "agent_slug", "error")
    list_select_related = ("product",)
    date_hierarchy = "created_at"
    show_full_result_count = False
    list_per_page = 50
    inlines = (MediaFileInline,)
    fieldsets = (
        (None, {"fields": ("id", "kind", "provider", "status", "stage", "progress", "error_code", "error")}),
        ("Request", {"fields": ("prompt", "inputs_pretty", "product", "owner", "created_by", "agent_slug")}),
        ("Outputs", {"fields": ("files_links",)}),
        (
            "Provider",
            {"fields": ("provider_task_id", "provider_status", "provider_output_pretty", "polls", "poll_failures")},
        ),
        ("Cost", {"fields": ("cost_usd", "ledger_entry", "budget")}),
        (
            "Timing",
            {"fields": ("created_at", "submitted_at", "finished_at", "deadline_at", "lease_until", "updated_at")},
        ),
        ("Origin", {"fields": ("agent_task_id", "idempotency_key", "request_hash")}),
    )
    readonly_fields = (
        *(f.name for f in MediaJob._meta.fields if f.name not in ("inputs", "provider_output")),
        "inputs_pretty",
        "provider_output_pretty",
        "files_links",
    )
    actions = ("cancel_jobs", "retry_jobs")

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False  # jobs are created through the API or an agent's tool

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False  # the record of what was paid for

    @admin.display(description="inputs")
    def inputs_pretty(self, obj: MediaJob) -> SafeString:
        return pretty_json(obj.inputs)

    @admin.display(description="provider output")
    def provider_output_pretty(self, obj: MediaJob) -> SafeString:
        return pretty_json(obj.provider_output)

    @admin.display(description="files")
    def files_links(self, obj: MediaJob) -> SafeString:
        files = [file_payload(obj, f) for f in obj.files.all()]
        if not files:
            return format_html("{}", "none yet")
        if all(f["purged_at"] for f in files):
            return format_html("{} file(s), purged by the media retention", len(files))
        files = [f for f in files if not f["purged_at"]]
        return format_html_join(
            "",
            '<div><a href="{}">{}</a> ({}, {} bytes){}</div>',
            (
                (
                    f["download_url"],
                    f["name"],
                    f["content_type"],
                    f["size"],
                    format_html('<br><img src="{}" style="max-height:160px">', f["download_url"])
                    if f["content_type"].startswith("image/")
                    else "",
                )
                for f in files
            ),
        )

    @admin.action(description="Cancel selected jobs")
    def cancel_jobs(self, request: HttpRequest, queryset: QuerySet[MediaJob]) -> None:
        done = 0
        for job in queryset.filter(status__in=ACTIVE_STATUSES).order_by():
            try:
                media_job_cancel(job=job, actor=request.user, request=request)
            except DomainError as exc:  # finished between the listing and the click
                self.message_user(request, f"{job.pk}: {exc.message}", messages.WARNING)
                continue
            done += 1
        self.message_user(request, f"Cancelled {done} job(s).")

    @admin.action(description="Retry selected failed/cancelled jobs (as new jobs)")
    def retry_jobs(self, request: HttpRequest, queryset: QuerySet[MediaJob]) -> None:
        for job in queryset.filter(status__in=[MediaStatus.FAILED, MediaStatus.CANCELLED]).order_by():
            try:
                retry = media_job_retry(job=job, actor=request.user, request=request)
            except DomainError as exc:
                self.message_user(request, f"{job.pk}: {exc.message}", messages.WARNING)
                continue
            self.message_user(request, f"{job.pk}: retried as {retry.pk}.")
