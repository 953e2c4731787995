"""Creating 3D and try-on jobs, and the owner's and operator's cancel and retry.

Creation (API or agent tool) checks the switch and the key, validates the product and
vets every image URL with the SSRF guard *before* writing anything, then stores the job
and queues its first step after commit (``steps.py`` runs it; ``billing.py`` charges it).
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from datetime import timedelta
from functools import partial
from typing import Any

from django.conf import settings
from django.db import IntegrityError, transaction
from django.http import HttpRequest
from django.utils import timezone

from agents_app.exceptions import check_same_request
from agents_app.media import fetch
from agents_app.media.events import publish_pipeline_update
from agents_app.media.exceptions import (
    FeatureDisabledError,
    MediaInputError,
    MediaJobNotCancellableError,
    MediaJobNotRetryableError,
    ProviderNotConfiguredError,
)
from agents_app.media.models import ACTIVE_STATUSES, MediaJob, MediaKind, MediaProvider, MediaStatus
from agents_app.media.services.billing import job_charge, job_release
from agents_app.media.services.steps import schedule_step
from commerce_app.models import Product
from devskyy.core.audit import audit_record
from devskyy.core.background import after_commit, mark_enqueue_failed
from devskyy.core.ssrf import OutboundFetchError, SSRFBlockedError, vet_url

TRYON_CATEGORIES = ("auto", "tops", "bottoms", "one-pieces")
PROVIDER_OF = {
    MediaKind.TEXT_TO_MODEL: MediaProvider.TRIPO,
    MediaKind.IMAGE_TO_MODEL: MediaProvider.TRIPO,
    MediaKind.TRYON: MediaProvider.FASHN,
}
_KEY_SETTING = {MediaProvider.TRIPO: "TRIPO_API_KEY", MediaProvider.FASHN: "FASHN_API_KEY"}
# The product's image stands in for a missing source or garment image.
_IMAGE_FALLBACK = frozenset({"image_url", "garment_image_url"})


@dataclass(frozen=True)
class CreatedJob:
    job: MediaJob
    created: bool  # False: an earlier request with the same Idempotency-Key made it


@dataclass(frozen=True)
class JobSpec:
    """What one kind of job asks for; everything else about creating it is shared.

    ``inputs`` are stored on the job as given, except each of ``image_fields``: vetted by
    the SSRF guard and, when it is a source or garment image left empty, replaced by the
    image of ``product_id``.
    """

    kind: MediaKind
    inputs: dict[str, Any]
    prompt: str = ""
    product_id: int | None = None
    image_fields: tuple[str, ...] = ()

    @classmethod
    def text_to_model(cls, *, prompt: str, options: dict[str, Any], product_id: int | None = None) -> JobSpec:
        return cls(MediaKind.TEXT_TO_MODEL, {"options": options}, prompt=prompt, product_id=product_id)

    @classmethod
    def image_to_model(
        cls, *, image_url: str | None, options: dict[str, Any], product_id: int | None = None
    ) -> JobSpec:
        """``image_url``, or the image of ``product_id`` when no URL is given."""
        return cls(
            MediaKind.IMAGE_TO_MODEL,
            {"image_url": image_url, "options": options},
            product_id=product_id,
            image_fields=("image_url",),
        )

    @classmethod
    def tryon(
        cls,
        *,
        model_image_url: str,
        garment_image_url: str | None,
        category: str,
        options: dict[str, Any],
        product_id: int | None = None,
    ) -> JobSpec:
        """The garment is ``garment_image_url`` or the image of ``product_id``."""
        inputs = {
            "model_image_url": model_image_url,
            "garment_image_url": garment_image_url,
            "category": category,
            "options": options,
        }
        return cls(
            MediaKind.TRYON, inputs, product_id=product_id, image_fields=("model_image_url", "garment_image_url")
        )

    @property
    def provider(self) -> MediaProvider:
        return PROVIDER_OF[self.kind]

    def validate(self) -> None:
        """What the spec alone can refuse (400); the product and the URLs are checked at creation."""
        if self.kind == MediaKind.TRYON and self.inputs.get("category") not in TRYON_CATEGORIES:
            raise MediaInputError(
                f"category must be one of {', '.join(TRYON_CATEGORIES)}.",
                details={"field": "category", "allowed": list(TRYON_CATEGORIES)},
            )

    def request_body(self) -> dict[str, Any]:
        """What an Idempotency-Key's request hash covers. Stored hashes must keep matching:
        the text prompt is part of it, the other kinds have no ``prompt`` key."""
        prompt = {"prompt": self.prompt} if self.kind == MediaKind.TEXT_TO_MODEL else {}
        return {"kind": self.kind, **prompt, **self.inputs, "product_id": self.product_id}


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
            f"{MediaProvider(provider).label} is not configured: set {setting}. Nothing was created.",
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
def media_job_create(
    *,
    spec: JobSpec,
    principal: Any,
    idempotency_key: str | None = None,
    agent_slug: str = "",
    agent_task_id: str = "",
    request: HttpRequest | None = None,
    check_available: bool = True,
) -> CreatedJob:
    """Create a job of any kind (API or agent tool) and queue its first step after commit.

    Before anything is written, in this order: the switch and the provider's key (503),
    the spec's own checks, an Idempotency-Key replay, the product, every image URL (400).
    ``check_available=False`` only for a caller that ran ``ensure_available`` itself (the
    API does, before it reads the request).
    """
    if check_available:
        ensure_available(spec.provider)
    spec.validate()
    return _create(
        spec=spec,
        request_body=spec.request_body(),
        principal=principal,
        idempotency_key=idempotency_key,
        agent_slug=agent_slug,
        agent_task_id=agent_task_id,
        request=request,
    )


def _create(
    *,
    spec: JobSpec,
    request_body: dict[str, Any],
    principal: Any,
    idempotency_key: str | None,
    agent_slug: str,
    agent_task_id: str,
    request: HttpRequest | None,
    created_by_id: int | None = None,
    owner: str | None = None,
) -> CreatedJob:
    owner = owner_of(principal) if owner is None else owner
    digest = _request_hash(request_body)
    if idempotency_key is not None:
        existing = MediaJob.objects.filter(owner=owner, idempotency_key=idempotency_key).first()
        if existing is not None:
            return _replay(existing, digest)
    product = _product(spec.product_id)
    inputs = dict(spec.inputs)
    for name in spec.image_fields:
        if not inputs.get(name) and name in _IMAGE_FALLBACK:
            if product is None:
                raise MediaInputError(f"Give {name} or a product_id.", details={"field": name})
            inputs[name] = product_image_url(product)
            inputs[f"{name}_from_product"] = True
        inputs[name] = _vet(str(inputs[name]), field=name, principal=principal)
    fields: dict[str, Any] = {
        "kind": spec.kind,
        "provider": spec.provider,
        "prompt": spec.prompt,
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
                details={"kind": spec.kind, "product_id": spec.product_id, "agent": agent_slug},
                request=request,
            )
            publish_pipeline_update(job)
            after_commit(
                _first_step(str(job.pk)),
                task="agents_app.media.advance_job",
                on_failure=partial(mark_enqueue_failed, MediaJob.objects.filter(pk=job.pk)),
            )
    except IntegrityError:
        if idempotency_key is None:
            raise
        # A concurrent request with the same key won the race: answer with its job.
        return _replay(MediaJob.objects.get(owner=owner, idempotency_key=idempotency_key), digest)
    return CreatedJob(job=job, created=True)


def _replay(existing: MediaJob, digest: str) -> CreatedJob:
    check_same_request(existing.request_hash, digest, details={"job_id": str(existing.pk)})
    return CreatedJob(job=existing, created=False)


def _first_step(job_id: str) -> Any:
    return lambda: schedule_step(job_id=job_id, countdown=0)


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
            job_charge(locked, billed=True, outcome="cancelled")
        else:  # nothing reached the provider (a submission in flight charges itself)
            job_release(locked)
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
    spec = JobSpec(MediaKind(job.kind), inputs, prompt=job.prompt, product_id=job.product_id, image_fields=fields)
    created = _create(
        spec=spec,
        request_body={"retry_of": str(job.pk)},
        principal=actor,
        idempotency_key=None,
        agent_slug=job.agent_slug,
        agent_task_id=job.agent_task_id,
        request=request,
        created_by_id=job.created_by_id,
        owner=job.owner,
    )
    return created.job
