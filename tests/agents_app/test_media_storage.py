"""Generated files in an S3-compatible bucket (MEDIA_STORAGE=s3): what a worker stores,
the web serves, with no disk shared between them, and what happens when the bucket is away.

The bucket is a local S3 server (tests/support/s3_server.py); the storage class,
django-storages and boto3 are production's own.
"""

from __future__ import annotations

import logging
import random
import socket
from pathlib import Path
from typing import Any

import pytest
from django.test import Client
from storages.backends import s3 as s3_backend

from agents_app.media.models import MediaFile, MediaJob, MediaStatus
from agents_app.media.services.steps import media_job_step
from devskyy.core.models import AuditLog
from devskyy.core.roles import Role
from tests.agents_app.test_media_jobs import TEXT, Providers, _api, _post, drive, media  # noqa: F401 - fixture
from tests.support.auth import access_token, bearer, make_user
from tests.support.media_servers import minimal_glb, png
from tests.support.s3_server import S3Server, s3_server

THEME = "/api/v1/wordpress/generate-theme"


@pytest.fixture
def bucket(settings, tmp_path: Path):
    with s3_server() as s3:
        settings.MEDIA_STORAGE = "s3"
        settings.STORAGES = s3.storages(settings.STORAGES)  # Django drops its storage objects on the change
        settings.MEDIA_ROOT = str(tmp_path / "web-disk")  # must stay empty
        yield s3


def _disk(settings) -> list[Path]:
    root = Path(settings.MEDIA_ROOT)
    return [p for p in root.rglob("*") if p.is_file()] if root.exists() else []


@pytest.mark.django_db(transaction=True)
def test_a_jobs_outputs_are_stored_in_the_bucket_and_downloaded_from_it(
    media: Providers,  # noqa: F811
    bucket: S3Server,
    settings,
) -> None:
    client, auth, _ = _api()
    response = _post(client, auth, TEXT, {"prompt": "a quilted bomber jacket"})
    assert response.status_code == 202, response.content
    job = drive(response.json()["id"])
    assert job.status == MediaStatus.SUCCEEDED, (job.error_code, job.error)

    assert bucket.object_keys() == [f"media/media-jobs/{job.pk}/model.glb", f"media/media-jobs/{job.pk}/preview.png"]
    assert _disk(settings) == []
    stored = bucket.client().get_object(Bucket=bucket.bucket, Key=f"media/media-jobs/{job.pk}/model.glb")
    assert stored["Body"].read() == minimal_glb()

    files = {f["role"]: f for f in client.get(f"/api/v1/media/3d/jobs/{job.pk}", **auth).json()["files"]}
    download = client.get(files["model"]["download_url"], **auth)
    assert download.status_code == 200
    assert download.getvalue() == minimal_glb()
    assert download["Content-Type"] == "model/gltf-binary"
    assert client.get(files["preview"]["download_url"], **auth).getvalue() == png(4, 4, (20, 20, 20))


@pytest.mark.django_db(transaction=True)
def test_a_bucket_that_cannot_be_reached_delays_the_job_and_refuses_downloads_with_503(
    media: Providers,  # noqa: F811
    bucket: S3Server,
    settings,
    caplog,
) -> None:
    client, auth, _ = _api()
    first = drive(_post(client, auth, TEXT, {"prompt": "a denim jacket"}).json()["id"])
    model = MediaFile.objects.get(job=first, role="model")
    reachable = settings.STORAGES
    settings.STORAGES = _unreachable(reachable)

    response = client.get(f"/api/v1/media/jobs/{first.pk}/files/{model.pk}", **auth)
    assert response.status_code == 503
    assert response.json()["error"]["code"] == "storage_unavailable"
    assert "file store" in response.json()["error"]["message"]

    job_id = _post(client, auth, TEXT, {"prompt": "a leather jacket"}).json()["id"]
    with caplog.at_level(logging.INFO, logger="agents_app.media.services.steps"):
        for _ in range(40):  # until the provider is done and storing the model is tried
            media_job_step(job_id=job_id)
            if "storing model.glb failed" in caplog.text or MediaJob.objects.get(pk=job_id).is_final:
                break
    job = MediaJob.objects.get(pk=job_id)
    assert (job.status, job.stage, job.lease_until) == (MediaStatus.RUNNING, "generating", None), job.error
    assert not MediaFile.objects.filter(job=job).exists()
    # /health tells the operator, from the failed store (it does not reach the bucket itself).
    storage = client.get("/health").json()["services"]["storage"]
    assert (storage["status"], storage["last_operation"]) == ("degraded", "store model.glb")
    assert storage["error"].startswith("EndpointConnectionError")

    settings.STORAGES = reachable  # the store is back: the next steps download again and finish
    job = drive(job_id)
    assert job.status == MediaStatus.SUCCEEDED, (job.error_code, job.error)
    assert f"media/media-jobs/{job_id}/model.glb" in bucket.object_keys()
    storage = client.get("/health").json()["services"]["storage"]
    assert storage["status"] == "ok"
    assert storage["last_operation"].startswith("store model.glb")


def _unreachable(storages: dict[str, Any]) -> dict[str, Any]:
    with socket.socket() as sock:  # a port nothing listens on: connections are refused
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    default = storages["default"]
    options = {**default["OPTIONS"], "endpoint_url": f"http://127.0.0.1:{port}"}
    return {**storages, "default": {**default, "OPTIONS": options}}


@pytest.mark.django_db(transaction=True)
def test_a_large_file_is_streamed_from_the_bucket_not_held_whole_by_the_web_worker(
    media: Providers,  # noqa: F811
    bucket: S3Server,
    monkeypatch,
) -> None:
    client, auth, _ = _api()
    job = drive(_post(client, auth, TEXT, {"prompt": "a wool overcoat"}).json()["id"])
    model = MediaFile.objects.get(job=job, role="model")
    large = random.Random(7).randbytes(12 * 1024 * 1024)  # a detailed model's size
    bucket.client().put_object(Bucket=bucket.bucket, Key=f"media/{model.file.name}", Body=large)
    # django-storages' S3File copies the whole object into memory before its first byte.
    buffered: list[str] = []
    original = s3_backend.S3File.__init__

    def spy(self: Any, name: str, *args: Any, **kwargs: Any) -> None:
        buffered.append(name)
        original(self, name, *args, **kwargs)

    monkeypatch.setattr(s3_backend.S3File, "__init__", spy)

    response = client.get(f"/api/v1/media/jobs/{job.pk}/files/{model.pk}", **auth)
    assert response.status_code == 200
    assert response.streaming
    assert response["Content-Length"] == str(len(large))
    assert response["Content-Disposition"] == 'attachment; filename="model.glb"'
    chunks = list(response.streaming_content)  # type: ignore[attr-defined]
    assert b"".join(chunks) == large
    assert len(chunks) > 100
    assert max(len(chunk) for chunk in chunks) <= 64 * 1024
    assert buffered == []


@pytest.mark.django_db(transaction=True)
def test_a_file_missing_from_the_bucket_is_a_404_that_names_it(media: Providers, bucket: S3Server) -> None:  # noqa: F811
    client, auth, _ = _api()
    job = drive(_post(client, auth, TEXT, {"prompt": "a trench coat"}).json()["id"])
    model = MediaFile.objects.get(job=job, role="model")
    bucket.client().delete_object(Bucket=bucket.bucket, Key=f"media/{model.file.name}")
    response = client.get(f"/api/v1/media/jobs/{job.pk}/files/{model.pk}", **auth)
    assert response.status_code == 404
    assert response.json()["error"]["code"] == "media_file_not_found"
    assert response.json()["error"]["details"]["name"] == "model.glb"


@pytest.mark.django_db(transaction=True)
def test_a_theme_is_stored_in_the_bucket_and_a_failed_store_is_a_503_that_records_nothing(
    bucket: S3Server, settings
) -> None:
    auth = bearer(access_token(make_user(Role.DEVELOPER)))
    response = Client().post(THEME, {"name": "Noir"}, "application/json", **auth)
    assert response.status_code == 201, response.content
    created = response.json()
    assert bucket.object_keys() == [f"media/themes/{created['id']}/noir.zip"]
    assert _disk(settings) == []
    download = Client().get(created["download_url"], **auth)
    assert download.status_code == 200
    assert len(download.getvalue()) == created["size_bytes"]

    audits = AuditLog.objects.filter(action="wordpress.theme_generated").count()
    settings.STORAGES = _unreachable(settings.STORAGES)
    refused = Client().post(THEME, {"name": "Noir Two"}, "application/json", **auth)
    assert refused.status_code == 503
    assert refused.json()["error"]["code"] == "storage_unavailable"
    assert AuditLog.objects.filter(action="wordpress.theme_generated").count() == audits
    assert Client().get(created["download_url"], **auth).status_code == 503
