"""Celery task advancing 3D / try-on jobs (``celery -A devskyy.taskqueue worker``)."""

from __future__ import annotations

from datetime import timedelta

from celery import shared_task
from django.conf import settings
from django.db import InterfaceError, OperationalError

from agents_app.media.services.retention import media_files_purge
from agents_app.media.services.steps import media_job_step, media_jobs_requeue, schedule_step
from devskyy.core.background import periodic_task


@shared_task(
    name="agents_app.media.advance_job",
    acks_late=True,
    reject_on_worker_lost=True,
    # Transient: the database went away. The claim's lease lapses and the retry claims again.
    autoretry_for=(OperationalError, InterfaceError),
    retry_backoff=True,
    retry_backoff_max=60,
    max_retries=20,
)
def advance_media_job(job_id: str) -> str:
    """One step of job ``job_id``; queues the next one (a countdown, never a sleep)."""
    outcome = media_job_step(job_id=job_id)
    if outcome.next_in is not None:
        schedule_step(job_id=job_id, countdown=outcome.next_in)
    return outcome.status


@periodic_task("agents_app.media.requeue_stale")
def requeue_stale_media_jobs() -> int:
    """Beat, every MEDIA_SWEEP_INTERVAL_SECONDS: the next step of active jobs nobody holds
    that have not moved for longer than their longest poll wait (a lost message)."""
    return media_jobs_requeue(stale_seconds=max(300.0, 2 * settings.MEDIA_POLL_MAX_SECONDS))


@periodic_task("agents_app.media.purge_expired")
def purge_expired_media_files() -> int:
    """Beat, every MEDIA_RETENTION_CHECK_SECONDS when MEDIA_RETENTION_DAYS is set: delete the
    stored files of jobs that finished longer ago (services/retention.py)."""
    if settings.MEDIA_RETENTION_DAYS <= 0:
        return 0
    return media_files_purge(older_than=timedelta(days=settings.MEDIA_RETENTION_DAYS)).files
