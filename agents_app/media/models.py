"""3D generation and try-on jobs (app_label agents_app)."""

from __future__ import annotations

import uuid
from decimal import Decimal

from django.conf import settings
from django.db import models
from django.db.models import Q


class MediaKind(models.TextChoices):
    TEXT_TO_MODEL = "text_to_model", "Text to 3D model"
    IMAGE_TO_MODEL = "image_to_model", "Image to 3D model"
    TRYON = "tryon", "Virtual try-on"


class MediaProvider(models.TextChoices):
    TRIPO = "tripo", "Tripo"
    FASHN = "fashn", "FASHN"


class MediaStatus(models.TextChoices):
    QUEUED = "queued", "Queued"  # created, not yet sent to the provider
    SUBMITTED = "submitted", "Submitted"  # the provider holds it, not started
    RUNNING = "running", "Running"  # the provider works on it (progress moves)
    SUCCEEDED = "succeeded", "Succeeded"  # outputs stored
    FAILED = "failed", "Failed"
    CANCELLED = "cancelled", "Cancelled"


ACTIVE_STATUSES = (MediaStatus.QUEUED, MediaStatus.SUBMITTED, MediaStatus.RUNNING)
FINAL_STATUSES = (MediaStatus.SUCCEEDED, MediaStatus.FAILED, MediaStatus.CANCELLED)


class MediaJob(models.Model):
    """One text-to-model, image-to-model or try-on job at Tripo or FASHN.

    ``inputs`` holds what the caller asked for (prompt, source image URLs, category,
    provider options); images are fetched only through the SSRF guard and sent to the
    provider as bytes, never as our caller's URL. ``owner`` is who may see the job
    (``user:<id>`` or ``api_key:<prefix>``; empty: staff only). ``lease_until`` and
    ``step_token`` make a step (submit, poll, download) run once even when the queue
    delivers its message twice. ``cost_usd``/``ledger_entry`` are written once, when the
    provider's work is billed (success, or cancel after submission); ``budget`` holds the
    daily-budget reservation made before submission.
    """

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    kind = models.CharField(max_length=16, choices=MediaKind.choices)
    provider = models.CharField(max_length=16, choices=MediaProvider.choices)
    status = models.CharField(max_length=16, choices=MediaStatus.choices, default=MediaStatus.QUEUED, db_index=True)
    stage = models.CharField(max_length=32, default="queued")
    progress = models.PositiveSmallIntegerField(default=0)
    prompt = models.TextField(blank=True)
    inputs = models.JSONField(default=dict, blank=True)
    product = models.ForeignKey(
        "commerce_app.Product", null=True, blank=True, on_delete=models.SET_NULL, related_name="media_jobs"
    )
    provider_task_id = models.CharField(max_length=128, blank=True, db_index=True)
    provider_status = models.CharField(max_length=32, blank=True)
    provider_output = models.JSONField(default=dict, blank=True)
    cost_usd = models.DecimalField(max_digits=12, decimal_places=6, default=Decimal("0"))
    ledger_entry = models.ForeignKey(
        "agents_app.SpendLedgerEntry", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    budget = models.JSONField(default=dict, blank=True)
    error_code = models.CharField(max_length=64, blank=True)
    error = models.TextField(blank=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="media_jobs"
    )
    owner = models.CharField(max_length=80, blank=True, db_index=True)
    agent_slug = models.CharField(max_length=64, blank=True)
    agent_task_id = models.CharField(max_length=64, blank=True)
    idempotency_key = models.CharField(max_length=128, null=True, blank=True)  # noqa: DJ001 - NULL: no key (unique per owner)
    request_hash = models.CharField(max_length=64, blank=True)
    polls = models.PositiveIntegerField(default=0)
    poll_failures = models.PositiveSmallIntegerField(default=0)
    lease_until = models.DateTimeField(null=True, blank=True)
    step_token = models.UUIDField(null=True, blank=True)
    # Set when queueing its first step failed (broker unreachable): the next media sweep
    # queues it whatever its age, and clears this.
    enqueue_failed_at = models.DateTimeField(null=True, blank=True)
    deadline_at = models.DateTimeField()
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)
    updated_at = models.DateTimeField(auto_now=True)
    submitted_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        app_label = "agents_app"
        ordering = ["-created_at", "-id"]
        constraints = [
            models.UniqueConstraint(
                fields=["owner", "idempotency_key"],
                condition=Q(idempotency_key__isnull=False),
                name="media_job_idempotency_per_owner",
            ),
            models.CheckConstraint(condition=Q(progress__lte=100), name="media_job_progress_0_100"),
            models.CheckConstraint(condition=Q(cost_usd__gte=0), name="media_job_cost_not_negative"),
        ]
        indexes = [models.Index(fields=["owner", "kind", "created_at"], name="media_job_owner_kind_time")]

    def __str__(self) -> str:
        return f"{self.get_kind_display()} {self.id} ({self.status})"

    @property
    def is_final(self) -> bool:
        return self.status in FINAL_STATUSES


class MediaFileRole(models.TextChoices):
    MODEL = "model", "3D model"
    PREVIEW = "preview", "Rendered preview"
    IMAGE = "image", "Try-on image"


def _upload_to(instance: MediaFile, filename: str) -> str:
    return f"media-jobs/{instance.job_id}/{filename}"


class MediaFile(models.Model):
    """One output of a job, stored through Django's default storage and served by the
    authenticated download endpoint (never by a public media URL) until retention
    purges it (``purged_at``)."""

    job = models.ForeignKey(MediaJob, on_delete=models.CASCADE, related_name="files")
    role = models.CharField(max_length=16, choices=MediaFileRole.choices)
    file = models.FileField(upload_to=_upload_to, max_length=255)
    name = models.CharField(max_length=128)
    content_type = models.CharField(max_length=64)
    size = models.PositiveBigIntegerField()
    sha256 = models.CharField(max_length=64)
    source_url_host = models.CharField(max_length=255, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    # Set when retention removed the stored object (agents_app/media/services/retention.py);
    # the row stays, with the job, as the record of what was made and paid for.
    purged_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        app_label = "agents_app"
        ordering = ["job", "id"]
        constraints = [models.UniqueConstraint(fields=["job", "name"], name="media_file_name_per_job")]

    def __str__(self) -> str:
        return f"{self.name} of {self.job_id}"
