"""Every write of 3D generation and try-on jobs.

Life cycle (``MediaJob.status``)::

    queued --submit--> submitted --provider starts--> running --provider done--> (download) --> succeeded
      |                    |                             |
      +--------------------+-----------------------------+--> failed (provider refused or failed, deadline,
      |                                                            bad output, budget) / cancelled (API, admin)

Creation (API or agent tool) checks the switch and the key, validates the product and
vets every image URL with the SSRF guard *before* writing anything, then stores the job
and queues its first step after commit. Each step is one run of
``agents_app.media.tasks.advance_media_job``: it claims the job with a conditional
UPDATE (lease + step token), does one thing (submit, or poll and maybe download),
writes the result only if it still holds the claim, and re-queues itself with a
growing countdown (MEDIA_POLL_INITIAL_SECONDS x 1.5^n, at most MEDIA_POLL_MAX_SECONDS):
no worker sleeps while the provider works. A job not finished by ``deadline_at``
(MEDIA_JOB_DEADLINE_SECONDS after creation) fails with ``deadline_exceeded``.

Money: the list price (TRIPO_PRICE_USD_PER_TASK / FASHN_PRICE_USD_PER_RUN) is reserved
from the agent's daily budget (``platform`` for API jobs) before the paid submission and
settled when the job ends. The spend ledger gets exactly one row per job that reached
the provider: the price when the provider did (or may have done) the work (success,
output we could not use, cancel after submission, unknown outcome), 0 with
``outcome="error"`` when it refused.
"""

from __future__ import annotations

import base64
import hashlib
import json
import logging
import threading
import uuid
from dataclasses import dataclass
from datetime import timedelta
from decimal import Decimal
from typing import Any

from django.conf import settings
from django.core.files.base import ContentFile
from django.db import IntegrityError, transaction
from django.db.models import Q
from django.http import HttpRequest
from django.utils import timezone

from agents_app.exceptions import IdempotencyConflictError
from agents_app.llm.budget import PLATFORM_BUDGET, Reservation, budget_release, budget_reserve, budget_settle, today
from agents_app.llm.exceptions import BudgetExceeded
from agents_app.llm.models import SpendKind, SpendSource
from agents_app.llm.services import ledger_record
from agents_app.media import fetch
from agents_app.media.clients import FashnClient, TaskState, TripoClient
from agents_app.media.events import publish_pipeline_update
from agents_app.media.exceptions import (
    FeatureDisabledError,
    MediaInputError,
    MediaJobNotCancellableError,
    MediaJobNotRetryableError,
    ProviderError,
    ProviderNotConfiguredError,
)
from agents_app.media.models import (
    ACTIVE_STATUSES,
    MediaFile,
    MediaFileRole,
    MediaJob,
    MediaKind,
    MediaProvider,
    MediaStatus,
)
from commerce_app.models import Product
from devskyy.core.audit import audit_record
from devskyy.core.background import dispatch_now
from devskyy.core.ssrf import OutboundFetchError, SSRFBlockedError, vet_url

logger = logging.getLogger(__name__)

TRYON_CATEGORIES = ("auto", "tops", "bottoms", "one-pieces")
PROVIDER_OF = {
    MediaKind.TEXT_TO_MODEL: MediaProvider.TRIPO,
    MediaKind.IMAGE_TO_MODEL: MediaProvider.TRIPO,
    MediaKind.TRYON: MediaProvider.FASHN,
}
_KEY_SETTING = {MediaProvider.TRIPO: "TRIPO_API_KEY", MediaProvider.FASHN: "FASHN_API_KEY"}
_NAME = {MediaProvider.TRIPO: "Tripo", MediaProvider.FASHN: "FASHN"}
# Tripo's words for a task that will never produce a model.
_TRIPO_FAILED = frozenset({"failed", "cancelled", "unknown", "banned", "expired"})
_TRIPO_MODEL_KEYS = ("pbr_model", "model", "base_model")
_LEASE_MARGIN_SECONDS = 60
_ZERO = Decimal("0")


@dataclass(frozen=True)
class CreatedJob:
    job: MediaJob
    created: bool  # False: an earlier request with the same Idempotency-Key made it


@dataclass(frozen=True)
class StepOutcome:
    status: str  # the job's status after the step, or "skipped" (not claimed)
    next_in: float | None = None  # run the next step after this many seconds


# --- who and what ----------------------------------------------------------------------------------
def owner_of(principal: Any) -> str:
    """``user:<id>`` or ``api_key:<prefix>``; empty for no principal (staff-only jobs)."""
    if principal is None or not getattr(principal, "is_authenticated", False):
        return ""
    if getattr(principal, "pk", None) is not None:
        return f"user:{principal.pk}"
    label = getattr(principal, "audit_label", "")
    return str(label)[:80]


def _user_id(principal: Any) -> int | None:
    if principal is None or not getattr(principal, "is_authenticated", False):
        return None
    pk = getattr(principal, "pk", None)
    return int(pk) if pk is not None else None


def price_of(provider: str) -> Decimal:
    value = settings.TRIPO_PRICE_USD_PER_TASK if provider == MediaProvider.TRIPO else settings.FASHN_PRICE_USD_PER_RUN
    return Decimal(str(value))


def ensure_available(provider: str) -> None:
    """Raise before anything is written when the feature is off or the key is missing."""
    if not settings.ENABLE_3D_GENERATION:
        raise FeatureDisabledError(
            "3D generation and virtual try-on are switched off (ENABLE_3D_GENERATION=false); nothing was created.",
            details={"setting": "ENABLE_3D_GENERATION"},
        )
    setting = _KEY_SETTING[MediaProvider(provider)]
    if not getattr(settings, setting):
        raise ProviderNotConfiguredError(
            f"{_NAME[MediaProvider(provider)]} is not configured: set {setting}. Nothing was created.",
            details={"provider": provider, "setting": setting},
        )


def _product(product_id: int | None) -> Product | None:
    if product_id is None:
        return None
    product = Product.objects.filter(pk=product_id).first()
    if product is None:
        raise MediaInputError(
            f"No product with id {product_id}.", code="unknown_product", details={"product_id": product_id}
        )
    return product


def product_image_url(product: Product) -> str:
    """The product's first http(s) image, or a 400 saying it has none."""
    for image in product.images or []:
        if isinstance(image, str) and image.startswith(("https://", "http://")):
            return image
    raise MediaInputError(
        f"Product {product.sku} has no image to use; give an image URL instead.",
        code="product_has_no_image",
        details={"product_id": product.pk, "sku": product.sku},
    )


def _vet(url: str, *, field: str, principal: Any) -> str:
    """SSRF check before the job exists: refused -> 400 ``url_not_allowed`` and nothing written."""
    try:
        vet_url(url, actor=principal, unsafe_allowed_addresses=fetch.allowed_addresses())
    except SSRFBlockedError as exc:
        exc.details = {**(exc.details or {}), "field": field}
        raise
    except OutboundFetchError as exc:
        raise MediaInputError(
            f"{field}: {exc.message}", code="image_url_unreachable", details={"field": field, "reason": exc.code}
        ) from None
    return url.strip()


def _request_hash(body: dict[str, Any]) -> str:
    canonical = json.dumps(body, sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(canonical.encode()).hexdigest()


# --- creating ------------------------------------------------------------------------------------------
def text_to_model_create(
    *,
    prompt: str,
    options: dict[str, Any],
    principal: Any,
    product_id: int | None = None,
    idempotency_key: str | None = None,
    agent_slug: str = "",
    agent_task_id: str = "",
    request: HttpRequest | None = None,
) -> CreatedJob:
    ensure_available(MediaProvider.TRIPO)
    body = {"kind": MediaKind.TEXT_TO_MODEL, "prompt": prompt, "options": options, "product_id": product_id}
    return _create(
        kind=MediaKind.TEXT_TO_MODEL,
        prompt=prompt,
        inputs={"options": options},
        request_body=body,
        product_id=product_id,
        principal=principal,
        idempotency_key=idempotency_key,
        agent_slug=agent_slug,
        agent_task_id=agent_task_id,
        request=request,
    )


def image_to_model_create(
    *,
    image_url: str | None,
    options: dict[str, Any],
    principal: Any,
    product_id: int | None = None,
    idempotency_key: str | None = None,
    agent_slug: str = "",
    agent_task_id: str = "",
    request: HttpRequest | None = None,
) -> CreatedJob:
    """``image_url``, or the image of ``product_id`` when no URL is given."""
    ensure_available(MediaProvider.TRIPO)
    body = {"kind": MediaKind.IMAGE_TO_MODEL, "image_url": image_url, "options": options, "product_id": product_id}
    return _create(
        kind=MediaKind.IMAGE_TO_MODEL,
        prompt="",
        inputs={"image_url": image_url, "options": options},
        request_body=body,
        product_id=product_id,
        principal=principal,
        idempotency_key=idempotency_key,
        agent_slug=agent_slug,
        agent_task_id=agent_task_id,
        request=request,
        image_fields=("image_url",),
    )


def tryon_create(
    *,
    model_image_url: str,
    garment_image_url: str | None,
    category: str,
    options: dict[str, Any],
    principal: Any,
    product_id: int | None = None,
    idempotency_key: str | None = None,
    agent_slug: str = "",
    agent_task_id: str = "",
    request: HttpRequest | None = None,
) -> CreatedJob:
    """The garment is ``garment_image_url`` or the image of ``product_id``."""
    ensure_available(MediaProvider.FASHN)
    if category not in TRYON_CATEGORIES:
        raise MediaInputError(
            f"category must be one of {', '.join(TRYON_CATEGORIES)}.",
            details={"field": "category", "allowed": list(TRYON_CATEGORIES)},
        )
    body = {
        "kind": MediaKind.TRYON,
        "model_image_url": model_image_url,
        "garment_image_url": garment_image_url,
        "category": category,
        "options": options,
        "product_id": product_id,
    }
    return _create(
        kind=MediaKind.TRYON,
        prompt="",
        inputs={
            "model_image_url": model_image_url,
            "garment_image_url": garment_image_url,
            "category": category,
            "options": options,
        },
        request_body=body,
        product_id=product_id,
        principal=principal,
        idempotency_key=idempotency_key,
        agent_slug=agent_slug,
        agent_task_id=agent_task_id,
        request=request,
        image_fields=("model_image_url", "garment_image_url"),
    )


def _create(
    *,
    kind: str,
    prompt: str,
    inputs: dict[str, Any],
    request_body: dict[str, Any],
    product_id: int | None,
    principal: Any,
    idempotency_key: str | None,
    agent_slug: str,
    agent_task_id: str,
    request: HttpRequest | None,
    image_fields: tuple[str, ...] = (),
    created_by_id: int | None = None,
    owner: str | None = None,
) -> CreatedJob:
    owner = owner_of(principal) if owner is None else owner
    digest = _request_hash(request_body)
    if idempotency_key is not None:
        existing = MediaJob.objects.filter(owner=owner, idempotency_key=idempotency_key).first()
        if existing is not None:
            return _replay(existing, digest)
    product = _product(product_id)
    inputs = dict(inputs)
    # The product's image stands in for a missing source or garment image.
    image_fallback = {"image_url", "garment_image_url"}
    for field in image_fields:
        if not inputs.get(field) and field in image_fallback:
            if product is None:
                raise MediaInputError(f"Give {field} or a product_id.", details={"field": field})
            inputs[field] = product_image_url(product)
            inputs[f"{field}_from_product"] = True
        inputs[field] = _vet(str(inputs[field]), field=field, principal=principal)
    fields: dict[str, Any] = {
        "kind": kind,
        "provider": PROVIDER_OF[MediaKind(kind)],
        "prompt": prompt,
        "inputs": inputs,
        "product": product,
        "created_by_id": created_by_id if created_by_id is not None else _user_id(principal),
        "owner": owner,
        "agent_slug": agent_slug,
        "agent_task_id": agent_task_id,
        "idempotency_key": idempotency_key,
        "request_hash": digest,
        "deadline_at": timezone.now() + timedelta(seconds=settings.MEDIA_JOB_DEADLINE_SECONDS),
    }
    try:
        with transaction.atomic():
            job = MediaJob.objects.create(**fields)
            audit_record(
                action="media.job_created",
                actor=principal,
                actor_label="" if principal is not None else f"agent:{agent_slug}" if agent_slug else "system",
                target_type="media_job",
                target_id=str(job.pk),
                details={"kind": kind, "product_id": product_id, "agent": agent_slug},
                request=request,
            )
            publish_pipeline_update(job)
            transaction.on_commit(_first_step(str(job.pk)))
    except IntegrityError:
        if idempotency_key is None:
            raise
        # A concurrent request with the same key won the race: answer with its job.
        return _replay(MediaJob.objects.get(owner=owner, idempotency_key=idempotency_key), digest)
    return CreatedJob(job=job, created=True)


def _replay(existing: MediaJob, digest: str) -> CreatedJob:
    if existing.request_hash != digest:
        raise IdempotencyConflictError(
            "This Idempotency-Key was already used with a different request body.",
            details={"job_id": str(existing.pk)},
        )
    return CreatedJob(job=existing, created=False)


def _first_step(job_id: str) -> Any:
    return lambda: schedule_step(job_id=job_id, countdown=0)


def schedule_step(*, job_id: str, countdown: float) -> None:
    """Run the job's next step on the task queue after ``countdown`` seconds.

    Celery keeps the countdown in the broker; embedded mode waits on a timer thread and
    then hands the step to the in-process executor (a restart loses the timer:
    ``media_jobs_requeue`` picks such jobs up again).
    """
    from agents_app.media.tasks import advance_media_job

    if not settings.TASKS_EMBEDDED:
        advance_media_job.apply_async(args=(job_id,), countdown=max(0.0, countdown))
        return
    if countdown <= 0:
        dispatch_now(advance_media_job, job_id)
        return
    timer = threading.Timer(countdown, dispatch_now, args=(advance_media_job, job_id))
    timer.daemon = True
    timer.start()


def media_jobs_requeue(*, stale_seconds: float = 300.0) -> int:
    """Queue a step for every active job nobody holds that has not moved for ``stale_seconds``
    (a lost timer or message); claims are conditional, so a duplicate step is skipped."""
    cutoff = timezone.now() - timedelta(seconds=stale_seconds)
    ids = list(
        MediaJob.objects.filter(status__in=ACTIVE_STATUSES, updated_at__lt=cutoff)
        .filter(Q(lease_until__isnull=True) | Q(lease_until__lt=timezone.now()))
        .values_list("pk", flat=True)
    )
    for pk in ids:
        schedule_step(job_id=str(pk), countdown=0)
    return len(ids)


# --- operator and owner actions --------------------------------------------------------------------
def media_job_cancel(*, job: MediaJob, actor: Any = None, request: HttpRequest | None = None) -> MediaJob:
    """Stop following the job. Neither provider offers a cancel call: work already
    submitted continues there and is billed, so it is charged to the ledger."""
    with transaction.atomic():
        locked = MediaJob.objects.select_for_update().get(pk=job.pk)
        if locked.status not in ACTIVE_STATUSES:
            raise MediaJobNotCancellableError(
                f"The job is already {locked.status}.", details={"job_id": str(job.pk), "status": locked.status}
            )
        submitted = bool(locked.provider_task_id)
        locked.status = MediaStatus.CANCELLED
        locked.stage = "cancelled"
        locked.error_code = "cancelled"
        locked.error = "Cancelled" + (
            "; the provider keeps the submitted work and bills it." if submitted else " before submission."
        )
        locked.finished_at = timezone.now()
        locked.lease_until = None
        locked.step_token = None
        if submitted:
            _charge(locked, billed=True, outcome="cancelled")
        else:  # nothing reached the provider (a submission in flight charges itself)
            _release(locked)
        locked.save()
        audit_record(
            action="media.job_cancelled",
            actor=actor,
            target_type="media_job",
            target_id=str(locked.pk),
            details={"submitted": submitted},
            request=request,
        )
        publish_pipeline_update(locked)
    return locked


def media_job_retry(*, job: MediaJob, actor: Any = None, request: HttpRequest | None = None) -> MediaJob:
    """A new job with the same inputs and owner (the failed one keeps its history and ledger row)."""
    if job.status not in (MediaStatus.FAILED, MediaStatus.CANCELLED):
        raise MediaJobNotRetryableError(
            "Only failed or cancelled jobs can be retried.", details={"job_id": str(job.pk), "status": job.status}
        )
    ensure_available(job.provider)
    inputs = {k: v for k, v in job.inputs.items() if not k.endswith("_from_product")}
    fields = tuple(f for f in ("image_url", "model_image_url", "garment_image_url") if f in inputs)
    created = _create(
        kind=job.kind,
        prompt=job.prompt,
        inputs=inputs,
        request_body={"retry_of": str(job.pk)},
        product_id=job.product_id,
        principal=actor,
        idempotency_key=None,
        agent_slug=job.agent_slug,
        agent_task_id=job.agent_task_id,
        request=request,
        image_fields=fields,
        created_by_id=job.created_by_id,
        owner=job.owner,
    )
    return created.job


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
    _charge(locked, billed=True, outcome="cancelled")
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
            message=f"{_NAME[MediaProvider(job.provider)]} reported the task {state.status} ({detail}).",
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
            media_file.file.save(media_file.name, ContentFile(got.content), save=False)
            saved.append(media_file)
    except OutboundFetchError as exc:
        _discard(saved)
        if exc.transient:  # the provider still holds the outputs: poll and download again
            return _later(job, token, stage="generating", delay=_poll_delay(job), note=exc.message)
        return _fail(job, token, code="output_download_failed", message=exc.message, billed=True)
    except (fetch.ContentRejectedError, SSRFBlockedError) as exc:
        _discard(saved)
        return _fail(job, token, code="output_rejected", message=exc.message, billed=True)
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
        _charge(locked, billed=True, outcome="ok")
        locked.save()
        audit_record(
            action="media.job_succeeded",
            actor_label=f"agent:{locked.agent_slug}" if locked.agent_slug else "system",
            target_type="media_job",
            target_id=str(locked.pk),
            details={"files": [f.name for f in saved], "cost_usd": str(locked.cost_usd)},
        )
        publish_pipeline_update(locked, files=saved)
    return StepOutcome(locked.status)


def _discard(files: list[MediaFile]) -> None:
    for media_file in files:
        if media_file.file.name:
            media_file.file.storage.delete(media_file.file.name)


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
            _charge(locked, billed=billed, outcome=outcome)
        else:
            _release(locked)
        locked.save()
        audit_record(
            action="media.job_failed",
            actor_label=f"agent:{locked.agent_slug}" if locked.agent_slug else "system",
            target_type="media_job",
            target_id=str(locked.pk),
            details={"code": code},
        )
        publish_pipeline_update(locked)
    logger.warning("media job %s failed: %s", job.pk, code)
    return StepOutcome(locked.status)


# --- money ---------------------------------------------------------------------------------------------
def _reservation(job: MediaJob) -> Reservation | None:
    if not job.budget:
        return None
    from datetime import date

    return Reservation(
        budget_id=job.budget.get("budget_id"),
        agent_slug=str(job.budget.get("agent_slug", "")),
        day=date.fromisoformat(str(job.budget["day"])),
        amount=Decimal(str(job.budget.get("amount", "0"))),
    )


def _release(job: MediaJob) -> None:
    reservation = _reservation(job)
    if reservation is not None and not job.budget.get("settled"):
        budget_release(reservation=reservation)
        job.budget = {**job.budget, "settled": "released"}


def _charge(job: MediaJob, *, billed: bool, outcome: str) -> None:
    """Write the job's one ledger row (inside the caller's transaction, row locked) and settle the budget."""
    if job.ledger_entry_id is not None:
        return
    amount = price_of(job.provider) if billed else Decimal("0")
    entry = ledger_record(
        kind=SpendKind.MODEL_3D if job.provider == MediaProvider.TRIPO else SpendKind.TRYON,
        provider=job.provider,
        amount=amount,
        source=SpendSource.PRICE_TABLE,
        price_source="TRIPO_PRICE_USD_PER_TASK" if job.provider == MediaProvider.TRIPO else "FASHN_PRICE_USD_PER_RUN",
        model=settings.FASHN_MODEL_NAME
        if job.provider == MediaProvider.FASHN
        else str((job.inputs.get("options") or {}).get("model_version", "")),
        outcome=outcome,
        error=job.error if outcome != "ok" else "",
        agent_slug=job.agent_slug,
        task_id=job.agent_task_id,
        product_refs=[job.product_id] if job.product_id else [],
        purpose=job.kind,
        details={"media_job_id": str(job.pk), "provider_task_id": job.provider_task_id},
    )
    job.ledger_entry = entry
    job.cost_usd = amount
    reservation = _reservation(job)
    if reservation is not None and not job.budget.get("settled"):
        budget_settle(reservation=reservation, actual=amount)
        job.budget = {**job.budget, "settled": "charged"}
    elif amount > 0:
        # Charged without a reservation: still count the spend against today's budget.
        budget_settle(reservation=Reservation(None, job.agent_slug or PLATFORM_BUDGET, today(), _ZERO), actual=amount)


__all__ = [
    "CreatedJob",
    "StepOutcome",
    "image_to_model_create",
    "media_job_cancel",
    "media_job_retry",
    "media_job_step",
    "media_jobs_requeue",
    "text_to_model_create",
    "tryon_create",
]
