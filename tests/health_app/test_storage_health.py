"""/health's ``storage``: a disk store checked now, a bucket by its last operation."""

from __future__ import annotations

import io
from pathlib import Path

import pytest
from django.core.cache import cache
from django.core.management import CommandError, call_command
from django.test import Client

from devskyy.core.storage import BUCKET_OUTCOME_KEY
from tests.agents_app.test_media_storage import _unreachable, bucket  # noqa: F401 - fixture
from tests.support.s3_server import S3Server

# Probes run on their own threads (own connections): data must be committed to be seen.
pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture(autouse=True)
def _no_recorded_outcome() -> None:
    cache.delete(BUCKET_OUTCOME_KEY)


def _health() -> tuple[int, dict]:
    response = Client().get("/health")
    return response.status_code, response.json()


def test_a_disk_store_is_checked_now_and_reports_its_free_space(settings, tmp_path: Path) -> None:
    settings.MEDIA_ROOT = str(tmp_path / "not-made-yet")  # made on the first write
    status, body = _health()
    storage = body["services"]["storage"]
    assert (status, body["status"], storage["status"], storage["backend"]) == (200, "healthy", "ok", "filesystem")
    assert storage["free_mb"] > 0
    assert storage["latency_ms"] >= 0
    assert str(tmp_path) not in str(storage)  # /health is public: no paths


def test_a_disk_store_that_cannot_hold_files_is_down_and_the_platform_degraded(settings, tmp_path: Path) -> None:
    blocker = tmp_path / "a-file"
    blocker.write_text("not a directory")
    settings.MEDIA_ROOT = str(blocker / "media")
    status, body = _health()
    storage = body["services"]["storage"]
    assert storage["status"] == "down"
    assert storage["error"] == "MEDIA_ROOT is not a directory: no file can be stored"
    # Generated files cannot be stored, but the API still answers: degraded, not unhealthy.
    assert (status, body["status"]) == (200, "degraded")
    assert "storage" in body["failing"]


def test_a_disk_store_short_of_room_is_degraded(settings, tmp_path: Path) -> None:
    settings.MEDIA_ROOT = str(tmp_path)
    settings.STORAGE_MIN_FREE_MB = 10**12  # more than any disk here has
    storage = _health()[1]["services"]["storage"]
    assert storage["status"] == "degraded"
    assert storage["reason"] == f"less than {10**12} MB free (STORAGE_MIN_FREE_MB)"


def _check_storage() -> None:
    call_command("check_storage", stdout=io.StringIO())


def test_a_bucket_is_reported_by_its_last_operation(bucket: S3Server, settings) -> None:  # noqa: F811
    storage = _health()[1]["services"]["storage"]
    assert (storage["status"], storage["backend"], storage["last_operation"]) == ("ok", "s3", None)

    reachable = settings.STORAGES
    settings.STORAGES = _unreachable(reachable)
    with pytest.raises(CommandError):
        _check_storage()
    status, body = _health()
    storage = body["services"]["storage"]
    assert storage["status"] == "degraded"
    assert storage["last_operation"] == "write a probe file (check_storage)"
    assert storage["error"].startswith("EndpointConnectionError: Could not connect to the endpoint URL")
    assert 0 <= storage["seconds_ago"] < 60
    assert (status, body["status"], body["failing"]) == (200, "degraded", ["storage"])

    settings.STORAGES = reachable  # an operator fixed it and checked again
    _check_storage()
    storage = _health()[1]["services"]["storage"]
    assert storage["status"] == "ok"
    assert storage["last_operation"] == "write, read back and delete a probe file (check_storage)"
    assert "error" not in storage
