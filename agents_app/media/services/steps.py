"""How a media job advances: one step per run of the queue task, each re-queued after a countdown.

Each step is one run of ``agents_app.media.tasks.advance_media_job``: it claims the job
with a conditional UPDATE (lease + step token), does one thing (submit, or poll and maybe
download), writes the result only if it still holds the claim, and re-queues itself with
a growing countdown (MEDIA_POLL_INITIAL_SECONDS x 1.5^n, at most MEDIA_POLL_MAX_SECONDS):
no worker sleeps while the provider works. A job not finished by ``deadline_at``
(MEDIA_JOB_DEADLINE_SECONDS after creation) fails with ``deadline_exceeded``.
"""

from __future__ import annotations

import base64
import hashlib
import logging
import uuid
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from django.conf import settings
from django.core.files.base import ContentFile
from django.db import transaction
from django.db.models import Q
from django.utils import timezone

from agents_app.llm.budget import budget_reserve
from agents_app.llm.exceptions import BudgetExceeded
from agents_app.media import fetch
from agents_app.media.clients import FashnClient, TaskState, TripoClient
from agents_app.media.events import publish_pipeline_update
from agents_app.media.exceptions import ProviderError
from agents_app.media.models import (
    ACTIVE_STATUSES,
    MediaFile,
    MediaFileRole,
    MediaJob,
    MediaKind,
    MediaProvider,
    MediaStatus,
)
from agents_app.media.services.billing import job_charge, job_release, price_of
from devskyy.core.audit import audit_record
from devskyy.core.background import dispatch_later
from devskyy.core.durability import through_outage
from devskyy.core.ssrf import OutboundFetchError, SSRFBlockedError
from devskyy.core.storage import record_bucket_outcome, storage_errors

logger = logging.getLogger(__name__)

# Tripo's words for a task that will never produce a model.
_TRIPO_FAILED = frozenset({"failed", "cancelled", "unknown", "banned", "expired"})
_TRIPO_MODEL_KEYS = ("pbr_model", "model", "base_model")
_LEASE_MARGIN_SECONDS = 60


@dataclass(frozen=True)
class StepOutcome:
    status: str  # the job's status after the step, or "skipped" (not claimed)
    next_in: float | None = None  # run the next step after this many seconds


# --- on the queue ------------------------------------------------------------------------------------
def schedule_step(*, job_id: str, countdown: float) -> None:
    """Run the job's next step on the task queue after ``countdown`` seconds (a restart
    loses an embedded timer: ``media_jobs_requeue`` picks such jobs up again)."""
    from agents_app.media.tasks import advance_media_job

    dispatch_later(advance_media_job, job_id, countdown=countdown)


def media_jobs_requeue(*, stale_seconds: float = 300.0) -> int:
    """Queue a step for every active job nobody holds that has not moved for ``stale_seconds``
    (a lost timer or message) or whose first step never reached the broker
    (``enqueue_failed_at``); claims are conditional, so a duplicate step is skipped."""
    cutoff = timezone.now() - timedelta(seconds=stale_seconds)
    ids = list(
        MediaJob.objects.filter(status__in=ACTIVE_STATUSES)
        .filter(Q(updated_at__lt=cutoff) | Q(enqueue_failed_at__isnull=False))  # the latter never reached the broker
        .filter(Q(lease_until__isnull=True) | Q(lease_until__lt=timezone.now()))
        .values_list("pk", flat=True)
    )
    if ids:  # only the marked rows: an unmarked one needs no write
        MediaJob.objects.filter(pk__in=ids, enqueue_failed_at__isnull=False).update(enqueue_failed_at=None)
    for pk in ids:
        schedule_step(job_id=str(pk), countdown=0)
    return len(ids)


# --- the steps ---------------------------------------------------------------------------------------
def _lease_seconds() -> float:
    return float(
        settings.MEDIA_DOWNLOAD_TIMEOUT_SECONDS * 3
        + settings.MEDIA_HTTP_TIMEOUT_SECONDS * settings.MEDIA_MAX_ATTEMPTS * 2
        + _LEASE_MARGIN_SECONDS
    )


def _claim(job_id: str) -> tuple[MediaJob, uuid.UUID] | None:
    now = timezone.now()
    token = uuid.uuid4()
    claimed = (
        MediaJob.objects.filter(pk=job_id, status__in=ACTIVE_STATUSES)
        .filter(Q(lease_until__isnull=True) | Q(lease_until__lt=now))
        .update(lease_until=now + timedelta(seconds=_lease_seconds()), step_token=token, updated_at=now)
    )
    if not claimed:
        return None
    return MediaJob.objects.select_related("product").get(pk=job_id), token


def _held(job: MediaJob, token: uuid.UUID) -> MediaJob | None:
    """Lock and return the job if this step still owns it (not cancelled, not re-claimed)."""
    locked = MediaJob.objects.select_for_update().filter(pk=job.pk, step_token=token).first()
    if locked is None or locked.status not in ACTIVE_STATUSES:
        return None
    return locked


def _poll_delay(job: MediaJob) -> float:
    delay = min(
        float(settings.MEDIA_POLL_MAX_SECONDS), float(settings.MEDIA_POLL_INITIAL_SECONDS) * 1.5 ** max(0, job.polls)
    )
    remaining = (job.deadline_at - timezone.now()).total_seconds()
    return max(0.0, min(delay, remaining + 0.01))


def media_job_step(*, job_id: str) -> StepOutcome:
    """Claim the job and run its next step (submit, or poll and maybe download)."""
    claim = _claim(job_id)
    if claim is None:
        return StepOutcome("skipped")
    job, token = claim
    if timezone.now() >= job.deadline_at:
        return _fail(
            job,
            token,
            code="deadline_exceeded",
            message=f"The job did not finish within {settings.MEDIA_JOB_DEADLINE_SECONDS} s "
            f"(last provider status: {job.provider_status or 'none'}).",
            billed=bool(job.provider_task_id),
        )
    try:
        try:
            if job.status == MediaStatus.QUEUED:
                return _submit(job, token)
            return _poll(job, token)
        except SSRFBlockedError as exc:
            return _fail(job, token, code="url_not_allowed", message=exc.message, billed=bool(job.provider_task_id))
        except BudgetExceeded as exc:
            return _fail(job, token, code=exc.code, message=exc.message, billed=False, called=False)
    except Exception:
        # A database error or a bug: give the claim back so the retried task (or
        # media_jobs_requeue) runs the step again instead of waiting out the lease.
        MediaJob.objects.filter(pk=job.pk, step_token=token).update(lease_until=None)
        raise


def _submit(job: MediaJob, token: uuid.UUID) -> StepOutcome:
    price = price_of(job.provider)
    if not job.budget:
        reservation = budget_reserve(agent_slug=job.agent_slug, amount=price)
        job.budget = {
            "budget_id": reservation.budget_id,
            "agent_slug": reservation.agent_slug,
            "day": reservation.day.isoformat(),
            "amount": str(reservation.amount),
        }
        MediaJob.objects.filter(pk=job.pk, step_token=token).update(budget=job.budget)
    if job.kind != MediaKind.TEXT_TO_MODEL:
        _set_stage(job, token, stage="fetching_inputs")
    try:
        task_id = _send(job)
    except fetch.ContentRejectedError as exc:
        return _fail(job, token, code=exc.code, message=exc.message, billed=False, called=False)
    except OutboundFetchError as exc:
        if exc.transient:
            return _later(job, token, stage="queued", delay=_poll_delay(job), note=exc.message)
        return _fail(job, token, code="image_fetch_failed", message=exc.message, billed=False, called=False)
    except ProviderError as exc:
        if exc.transient and not exc.outcome_unknown:
            return _later(job, token, stage="queued", delay=exc.retry_after or _poll_delay(job), note=exc.message)
        if exc.outcome_unknown:
            return _fail(
                job,
                token,
                code="provider_outcome_unknown",
                message=f"{exc.message} The job may exist at the provider; it was not sent again so it is "
                "not paid twice.",
                billed=True,
                outcome="outcome_unknown",
            )
        return _fail(job, token, code=exc.code, message=exc.message, billed=False)
    # The provider has the work and bills it: a short database outage must not make the
    # job submit (and pay) again once its claim lapses (core/durability.py).
    return through_outage(lambda: _record_submission(job, token, task_id), what=f"recording media job {job.pk}")


def _record_submission(job: MediaJob, token: uuid.UUID, task_id: str) -> StepOutcome:
    with transaction.atomic():
        locked = _held(job, token)
        if locked is None:
            # Cancelled while we submitted: the provider has the work and bills it.
            _charge_late_submission(job, task_id)
            return StepOutcome("skipped")
        locked.provider_task_id = task_id
        locked.status = MediaStatus.SUBMITTED
        locked.stage = "generating"
        locked.progress = 5
        locked.submitted_at = timezone.now()
        locked.lease_until = None
        locked.polls = 0
        locked.save()
        publish_pipeline_update(locked)
    return StepOutcome(locked.status, _poll_delay(locked))


def _send(job: MediaJob) -> str:
    options = dict(job.inputs.get("options") or {})
    if job.provider == MediaProvider.TRIPO:
        with TripoClient.from_settings() as tripo:
            if job.kind == MediaKind.TEXT_TO_MODEL:
                return tripo.create_task({"type": "text_to_model", "prompt": job.prompt, **options})
            image = fetch.fetch_image(job.inputs["image_url"], what="image_url")
            file_token = tripo.upload_image(
                content=image.content, filename=f"source.{image.extension}", content_type=image.content_type
            )
            return tripo.create_task(
                {"type": "image_to_model", "file": {"type": image.extension, "file_token": file_token}, **options}
            )
    model = fetch.fetch_image(job.inputs["model_image_url"], what="model_image_url")
    garment = fetch.fetch_image(job.inputs["garment_image_url"], what="garment_image_url")
    inputs = {
        "model_image": _data_url(model),
        "garment_image": _data_url(garment),
        "category": job.inputs.get("category", "auto"),
        **options,
    }
    with FashnClient.from_settings() as fashn:
        return fashn.run(model_name=settings.FASHN_MODEL_NAME, inputs=inputs)


def _charge_late_submission(job: MediaJob, task_id: str) -> None:
    logger.warning("media job %s was cancelled while it was submitted as %s", job.pk, task_id)
    locked = MediaJob.objects.select_for_update().get(pk=job.pk)
    locked.provider_task_id = task_id
    job_charge(locked, billed=True, outcome="cancelled")
    locked.save(update_fields=["provider_task_id", "ledger_entry", "cost_usd", "budget", "updated_at"])


def _data_url(image: fetch.Fetched) -> str:
    return f"data:{image.content_type};base64,{base64.b64encode(image.content).decode()}"


def _state(job: MediaJob) -> TaskState:
    if job.provider == MediaProvider.TRIPO:
        with TripoClient.from_settings() as tripo:
            return tripo.get_task(job.provider_task_id)
    with FashnClient.from_settings() as fashn:
        return fashn.status(job.provider_task_id)


def _poll(job: MediaJob, token: uuid.UUID) -> StepOutcome:
    try:
        state = _state(job)
    except ProviderError as exc:
        if exc.transient:
            MediaJob.objects.filter(pk=job.pk, step_token=token).update(poll_failures=job.poll_failures + 1)
            return _later(job, token, stage=job.stage, delay=exc.retry_after or _poll_delay(job), note=exc.message)
        return _fail(job, token, code=exc.code, message=exc.message, billed=True)
    job.polls += 1
    tripo = job.provider == MediaProvider.TRIPO
    if (tripo and state.status == "success") or (not tripo and state.status == "completed"):
        return _download(job, token, state)
    if (tripo and state.status in _TRIPO_FAILED) or (not tripo and state.status == "failed"):
        detail = f"{state.error_name}: {state.error_message}" if state.error_name else state.status
        return _fail(
            job,
            token,
            code=f"provider_task_{state.status}",
            message=f"{MediaProvider(job.provider).label} reported the task {state.status} ({detail}).",
            billed=False,
            provider_status=state.status,
        )
    running = state.status in ("running", "processing")
    if tripo and state.progress is not None:
        progress = 5 + round(max(0, min(100, state.progress)) * 0.85)
    else:
        progress = 50 if running else 5
    return _progress(
        job,
        token,
        status=MediaStatus.RUNNING if running else MediaStatus.SUBMITTED,
        progress=max(job.progress, progress),
        provider_status=state.status,
    )


def _progress(job: MediaJob, token: uuid.UUID, *, status: str, progress: int, provider_status: str) -> StepOutcome:
    with transaction.atomic():
        locked = _held(job, token)
        if locked is None:
            return StepOutcome("skipped")
        changed = (locked.status, locked.progress) != (status, progress)
        locked.status, locked.progress, locked.provider_status = status, progress, provider_status
        locked.polls, locked.poll_failures, locked.lease_until = job.polls, 0, None
        locked.save()
        if changed:
            publish_pipeline_update(locked)
    return StepOutcome(locked.status, _poll_delay(locked))


def _download(job: MediaJob, token: uuid.UUID, state: TaskState) -> StepOutcome:
    _set_stage(job, token, stage="downloading", progress=90, provider_status=state.status)
    wanted: list[tuple[str, str, str]] = []  # (role, base name, url)
    if job.provider == MediaProvider.TRIPO:
        model_url = next((state.outputs[k] for k in _TRIPO_MODEL_KEYS if k in state.outputs), None)
        if model_url is None:
            return _fail(
                job, token, code="provider_output_missing", message="Tripo finished without a model URL.", billed=True
            )
        wanted.append((MediaFileRole.MODEL, "model", model_url))
        if "rendered_image" in state.outputs:
            wanted.append((MediaFileRole.PREVIEW, "preview", state.outputs["rendered_image"]))
    else:
        if not state.outputs:
            return _fail(
                job, token, code="provider_output_missing", message="FASHN finished without an image.", billed=True
            )
        wanted.extend((MediaFileRole.IMAGE, f"tryon-{n}", url) for n, url in enumerate(state.outputs.values(), 1))
    saved: list[MediaFile] = []
    try:
        for role, base, url in wanted:
            got = fetch.fetch_model(url) if role == MediaFileRole.MODEL else fetch.fetch_output_image(url)
            media_file = MediaFile(
                job=job,
                role=role,
                name=f"{base}.{got.extension}",
                content_type=got.content_type,
                size=len(got.content),
                sha256=hashlib.sha256(got.content).hexdigest(),
                source_url_host=got.host[:255],
            )
            try:
                media_file.file.save(media_file.name, ContentFile(got.content), save=False)
            except storage_errors() as exc:  # the provider still holds the outputs: try again later
                record_bucket_outcome(f"store {media_file.name}", exc)
                _discard(saved)
                return _later(
                    job,
                    token,
                    stage="generating",
                    delay=_poll_delay(job),
                    note=f"storing {media_file.name} failed: {exc}",
                )
            saved.append(media_file)
    except OutboundFetchError as exc:
        _discard(saved)
        if exc.transient:  # the provider still holds the outputs: poll and download again
            return _later(job, token, stage="generating", delay=_poll_delay(job), note=exc.message)
        return _fail(job, token, code="output_download_failed", message=exc.message, billed=True)
    except (fetch.ContentRejectedError, SSRFBlockedError) as exc:
        _discard(saved)
        return _fail(job, token, code="output_rejected", message=exc.message, billed=True)
    record_bucket_outcome(f"store {', '.join(f.name for f in saved)}")
    with transaction.atomic():
        locked = _held(job, token)
        if locked is None:
            _discard(saved)
            return StepOutcome("skipped")
        MediaFile.objects.filter(job=locked).delete()  # an earlier attempt's rows, if any
        MediaFile.objects.bulk_create(saved)
        locked.status, locked.stage, locked.progress = MediaStatus.SUCCEEDED, "done", 100
        locked.provider_status = state.status
        locked.provider_output = {"outputs": sorted(state.outputs)}
        locked.finished_at = timezone.now()
        locked.lease_until = None
        locked.polls = job.polls
        job_charge(locked, billed=True, outcome="ok")
        _record_end(
            locked,
            action="media.job_succeeded",
            details={"files": [f.name for f in saved], "cost_usd": str(locked.cost_usd)},
            files=saved,
        )
    return StepOutcome(locked.status)


def _discard(files: list[MediaFile]) -> None:
    for media_file in files:
        if media_file.file.name:
            try:
                media_file.file.storage.delete(media_file.file.name)
            except storage_errors() as exc:  # left behind; the job's outcome does not depend on it
                logger.warning("media: could not delete %s from the file store: %s", media_file.file.name, exc)


def _set_stage(
    job: MediaJob, token: uuid.UUID, *, stage: str, progress: int | None = None, provider_status: str = ""
) -> None:
    with transaction.atomic():
        locked = _held(job, token)
        if locked is None or (locked.stage == stage and (progress is None or locked.progress == progress)):
            return
        locked.stage = stage
        if progress is not None:
            locked.progress = max(locked.progress, progress)
        if provider_status:
            locked.provider_status = provider_status
        locked.save()
        publish_pipeline_update(locked)
        job.stage, job.progress = locked.stage, locked.progress


def _later(job: MediaJob, token: uuid.UUID, *, stage: str, delay: float, note: str) -> StepOutcome:
    """Transient trouble: release the claim and try this step again after ``delay``."""
    logger.info("media job %s: %s; next step in %.1fs", job.pk, note, delay)
    remaining = (job.deadline_at - timezone.now()).total_seconds()
    with transaction.atomic():
        locked = _held(job, token)
        if locked is None:
            return StepOutcome("skipped")
        locked.lease_until = None
        locked.polls = job.polls + 1
        if locked.stage != stage:
            locked.stage = stage
            publish_pipeline_update(locked)
        locked.save()
    return StepOutcome(locked.status, max(0.0, min(delay, remaining + 0.01)))


def _fail(
    job: MediaJob,
    token: uuid.UUID,
    *,
    code: str,
    message: str,
    billed: bool,
    called: bool = True,
    outcome: str = "error",
    provider_status: str = "",
) -> StepOutcome:
    with transaction.atomic():
        locked = _held(job, token)
        if locked is None:
            return StepOutcome("skipped")
        locked.status, locked.stage = MediaStatus.FAILED, "failed"
        locked.error_code, locked.error = code[:64], message[:2000]
        if provider_status:
            locked.provider_status = provider_status
        locked.finished_at = timezone.now()
        locked.lease_until = None
        if called:
            job_charge(locked, billed=billed, outcome=outcome)
        else:
            job_release(locked)
        _record_end(locked, action="media.job_failed", details={"code": code})
    logger.warning("media job %s failed: %s", job.pk, code)
    return StepOutcome(locked.status)


def _record_end(
    locked: MediaJob, *, action: str, details: dict[str, Any], files: list[MediaFile] | None = None
) -> None:
    """Save a job that reached its end, audit it as its agent (or the system), announce it."""
    locked.save()
    audit_record(
        action=action,
        actor_label=f"agent:{locked.agent_slug}" if locked.agent_slug else "system",
        target_type="media_job",
        target_id=str(locked.pk),
        details=details,
    )
    publish_pipeline_update(locked, files=files)
