"""Reads of 3D and try-on jobs, with object-level authorization.

A job is visible to its owner (the user, or the API key, that created it) and to
staff; anyone else gets the same 404 as for a job that does not exist.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from django.db.models import Prefetch, QuerySet

from agents_app.media.exceptions import MediaFileNotFoundError, MediaJobNotFoundError
from agents_app.media.models import MediaFile, MediaJob
from agents_app.media.services.jobs import owner_of


def can_see_all(principal: Any) -> bool:
    return bool(getattr(principal, "is_staff", False) or getattr(principal, "is_superuser", False))


def visible_jobs(principal: Any) -> QuerySet[MediaJob]:
    qs = MediaJob.objects.select_related("product").prefetch_related(
        Prefetch("files", queryset=MediaFile.objects.order_by("id"))
    )
    if can_see_all(principal):
        return qs
    owner = owner_of(principal)
    if not owner:
        return qs.none()
    return qs.filter(owner=owner)


def media_job_list(
    *, principal: Any, kinds: Sequence[str], status: str | None = None, product_id: int | None = None
) -> QuerySet[MediaJob]:
    qs = visible_jobs(principal).filter(kind__in=list(kinds))
    if status:
        qs = qs.filter(status=status)
    if product_id is not None:
        qs = qs.filter(product_id=product_id)
    return qs


def media_job_get_visible(*, principal: Any, job_id: str, kinds: Sequence[str] | None = None) -> MediaJob:
    qs = visible_jobs(principal).filter(pk=job_id)
    if kinds is not None:
        qs = qs.filter(kind__in=list(kinds))
    job = qs.first()
    if job is None:
        raise MediaJobNotFoundError("No such job.", details={"job_id": job_id})
    return job


def media_file_get_visible(*, principal: Any, job_id: str, file_id: int) -> MediaFile:
    job = media_job_get_visible(principal=principal, job_id=job_id)
    media_file = next((f for f in job.files.all() if f.pk == file_id), None)
    if media_file is None:
        raise MediaFileNotFoundError("No such file in this job.", details={"job_id": job_id, "file_id": file_id})
    return media_file
