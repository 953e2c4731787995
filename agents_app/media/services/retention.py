"""Retention of generated files: ``manage.py purge_media --older-than 90d``, and beat
every MEDIA_RETENTION_CHECK_SECONDS when MEDIA_RETENTION_DAYS is set.

The stored objects (3D models, previews, try-on images) of jobs that finished before
the cutoff are deleted from the store. The job rows, their file rows (name, size,
sha256, now marked ``purged_at``) and their ledger rows stay: the record of what was
made and paid for; a download of a purged file answers 410 ``media_file_purged``.

Each object is deleted first and its row marked after, so a store that fails leaves
the row unmarked for the next run (deleting an object that is already gone succeeds,
on disk and in a bucket). The first failure stops the run: the store is likely away,
and every further file would wait out its timeouts.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.db.models import Count, QuerySet, Sum
from django.utils import timezone

from agents_app.media.models import FINAL_STATUSES, MediaFile
from agents_app.services.maintenance import InvalidDurationError
from devskyy.core.audit import audit_record
from devskyy.core.storage import record_bucket_outcome, storage_errors, stored_file_delete

logger = logging.getLogger(__name__)

_BATCH = 500


@dataclass(frozen=True)
class MediaPurgeResult:
    cutoff: datetime
    jobs: int
    files: int
    bytes: int
    dry_run: bool
    error: str = ""  # why the run stopped early (the store failed); the rest waits for the next run


def _due(cutoff: datetime) -> QuerySet[MediaFile]:
    return MediaFile.objects.filter(
        purged_at__isnull=True, job__status__in=FINAL_STATUSES, job__finished_at__lt=cutoff
    ).order_by("pk")


def media_files_purge(*, older_than: timedelta, dry_run: bool = False) -> MediaPurgeResult:
    """Delete the stored files of media jobs that finished more than ``older_than`` ago."""
    if older_than <= timedelta(0):
        raise InvalidDurationError("older_than must be positive.")
    cutoff = timezone.now() - older_than
    if dry_run:
        totals = _due(cutoff).aggregate(files=Count("pk"), bytes=Sum("size"), jobs=Count("job", distinct=True))
        return MediaPurgeResult(cutoff, totals["jobs"], totals["files"], totals["bytes"] or 0, dry_run=True)
    jobs: set[str] = set()
    files = size = 0
    error = ""
    last_pk = 0
    while not error:
        batch = list(_due(cutoff).filter(pk__gt=last_pk).values_list("pk", "job_id", "file", "size")[:_BATCH])
        if not batch:
            break
        deleted: list[int] = []
        for pk, job_id, name, file_size in batch:
            try:
                if name:
                    stored_file_delete(name)
            except storage_errors() as exc:
                error = f"the file store could not delete {name}: {exc}"
                logger.warning("media retention stopped: %s", error)
                record_bucket_outcome(f"delete {name}", exc)
                break
            deleted.append(pk)
            jobs.add(str(job_id))
            files += 1
            size += file_size
        MediaFile.objects.filter(pk__in=deleted, purged_at__isnull=True).update(purged_at=timezone.now())
        last_pk = batch[-1][0]
    if files and not error:
        record_bucket_outcome(f"delete {files} expired file(s)")
    if files or error:
        audit_record(
            action="media.files_purged",
            actor_label="system",
            target_type="media_file",
            details={"cutoff": cutoff.isoformat(), "jobs": len(jobs), "files": files, "bytes": size, "error": error},
        )
    return MediaPurgeResult(cutoff, len(jobs), files, size, dry_run=False, error=error)
