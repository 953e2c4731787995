"""Media retention: ``manage.py purge_media`` and the beat task delete the stored files of
old finished jobs, keep every record, and stop without marking anything when the store fails."""

from __future__ import annotations

import io
from datetime import timedelta
from pathlib import Path

import pytest
from django.core.management import CommandError, call_command
from django.utils import timezone

from agents_app.llm.models import SpendLedgerEntry
from agents_app.media.models import MediaFile, MediaJob, MediaStatus
from agents_app.media.tasks import purge_expired_media_files
from devskyy.core.models import AuditLog
from tests.agents_app.test_media_jobs import TEXT, Providers, _api, _post, drive, media  # noqa: F401 - fixture
from tests.agents_app.test_media_storage import _unreachable, bucket  # noqa: F401 - fixture
from tests.support.s3_server import S3Server


def _finished_job(client, auth, prompt: str, days_ago: float) -> MediaJob:
    job = drive(_post(client, auth, TEXT, {"prompt": prompt}).json()["id"])
    assert job.status == MediaStatus.SUCCEEDED, job.error
    MediaJob.objects.filter(pk=job.pk).update(finished_at=timezone.now() - timedelta(days=days_ago))
    return job


def _stored(job: MediaJob) -> list[Path]:
    return [Path(f.file.path) for f in MediaFile.objects.filter(job=job)]


def _purge(*args: str) -> str:
    out = io.StringIO()
    call_command("purge_media", *args, stdout=out)
    return out.getvalue()


@pytest.mark.django_db(transaction=True)
def test_purge_deletes_old_files_keeps_records_and_downloads_answer_410(media: Providers) -> None:  # noqa: F811
    client, auth, _ = _api()
    old = _finished_job(client, auth, "an old parka", days_ago=100)
    recent = _finished_job(client, auth, "a new parka", days_ago=5)
    old_paths, recent_paths = _stored(old), _stored(recent)
    assert all(p.exists() for p in old_paths + recent_paths)
    sizes = sum(p.stat().st_size for p in old_paths)
    ledger = SpendLedgerEntry.objects.count()

    assert _purge("--older-than", "90d", "--dry-run").startswith(f"would delete 2 stored file(s), {sizes} bytes, of 1 ")
    assert all(p.exists() for p in old_paths)
    assert not MediaFile.objects.filter(purged_at__isnull=False).exists()

    out = _purge("--older-than", "90d")
    assert out.startswith(f"deleted 2 stored file(s), {sizes} bytes, of 1 media job(s)")
    assert not any(p.exists() for p in old_paths)
    assert not any(p.parent.exists() for p in old_paths)  # the job's folder went with them
    assert all(p.exists() for p in recent_paths)
    assert MediaFile.objects.filter(job=old, purged_at__isnull=False).count() == 2
    assert not MediaFile.objects.filter(job=recent, purged_at__isnull=False).exists()
    assert SpendLedgerEntry.objects.count() == ledger
    audit = AuditLog.objects.get(action="media.files_purged")
    assert (audit.details["files"], audit.details["jobs"], audit.details["bytes"]) == (2, 1, sizes)

    detail = client.get(f"/api/v1/media/3d/jobs/{old.pk}", **auth).json()
    assert detail["status"] == "succeeded"
    model = next(f for f in detail["files"] if f["role"] == "model")
    assert model["download_url"] is None
    assert model["purged_at"] is not None
    gone = client.get(f"/api/v1/media/jobs/{old.pk}/files/{model['id']}", **auth)
    assert gone.status_code == 410
    assert gone.json()["error"]["code"] == "media_file_purged"
    recent_file = MediaFile.objects.filter(job=recent).first()
    assert recent_file is not None
    assert client.get(f"/api/v1/media/jobs/{recent.pk}/files/{recent_file.pk}", **auth).status_code == 200

    assert _purge("--older-than", "90d").startswith("deleted 0 stored file(s)")  # nothing twice
    assert AuditLog.objects.filter(action="media.files_purged").count() == 1


@pytest.mark.django_db(transaction=True)
def test_active_jobs_are_never_purged(media: Providers) -> None:  # noqa: F811
    client, auth, _ = _api()
    job = _finished_job(client, auth, "a cape", days_ago=100)
    MediaJob.objects.filter(pk=job.pk).update(status=MediaStatus.RUNNING)  # e.g. retried in place
    assert _purge("--older-than", "1d").startswith("deleted 0 stored file(s)")
    assert all(p.exists() for p in _stored(job))


@pytest.mark.parametrize("bad", ["0d", "ninety days", "-5d", "90"])
@pytest.mark.django_db
def test_bad_ages_are_refused_and_change_nothing(bad: str) -> None:
    with pytest.raises(CommandError, match="(?i)duration"):
        _purge(f"--older-than={bad}")
    assert not AuditLog.objects.filter(action="media.files_purged").exists()


@pytest.mark.django_db(transaction=True)
def test_a_store_that_fails_stops_the_run_marks_nothing_and_the_next_run_finishes(
    media: Providers,  # noqa: F811
    bucket: S3Server,  # noqa: F811
    settings,
) -> None:
    client, auth, _ = _api()
    job = _finished_job(client, auth, "a kimono", days_ago=40)
    keys = [k for k in bucket.object_keys() if str(job.pk) in k]
    assert len(keys) == 2
    reachable = settings.STORAGES
    settings.STORAGES = _unreachable(reachable)
    with pytest.raises(CommandError, match="Stopped early: the file store could not delete"):
        _purge("--older-than", "30d")
    assert not MediaFile.objects.filter(purged_at__isnull=False).exists()
    assert AuditLog.objects.get(action="media.files_purged").details["error"]

    settings.STORAGES = reachable
    settings.MEDIA_RETENTION_DAYS = 30  # the beat task, as the schedule runs it
    assert purge_expired_media_files.apply().get() == 2
    assert not [k for k in bucket.object_keys() if str(job.pk) in k]
    assert MediaFile.objects.filter(job=job, purged_at__isnull=False).count() == 2


@pytest.mark.django_db
def test_the_beat_task_does_nothing_without_a_retention_period(settings) -> None:
    settings.MEDIA_RETENTION_DAYS = 0
    assert purge_expired_media_files.apply().get() == 0
    assert not AuditLog.objects.exists()
