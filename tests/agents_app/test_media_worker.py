"""Media jobs on a real Celery worker: every step, and every poll countdown, travels
through the Redis broker to a separate worker process (the in-process tests drive the
steps themselves)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import redis

from agents_app.media.models import MediaJob, MediaStatus
from tests.agents_app.test_media_jobs import TEXT, _api, _post
from tests.support.media_servers import TripoServer, minimal_glb, tripo_server
from tests.support.s3_server import s3_server
from tests.support.servers import celery_worker, poll

pytestmark = [pytest.mark.services, pytest.mark.slow, pytest.mark.django_db(transaction=True)]


def _worker_with_tripo(
    server_env: dict[str, str], settings: Any, tripo: TripoServer, media_root: Path
) -> dict[str, str]:
    """Point this process at ``tripo`` and return a worker environment that does the same,
    its generated files under ``media_root``; empties the broker of earlier runs' messages."""
    broker = redis.Redis.from_url(settings.CELERY_BROKER_URL)
    broker.delete("celery", "unacked", "unacked_index", "unacked_mutex")
    settings.ENABLE_3D_GENERATION = True
    settings.TRIPO_API_KEY, settings.TRIPO_BASE_URL = tripo.api_key, tripo.url
    return {
        **server_env,
        "DJANGO_SETTINGS_MODULE": "tests.support.media_worker_settings",
        "TEST_MEDIA_ALLOWED_PORTS": str(tripo.port),
        "TRIPO_API_KEY": tripo.api_key,
        "TRIPO_BASE_URL": tripo.url,
        "ENABLE_3D_GENERATION": "true",
        "MEDIA_ROOT": str(media_root),
        "MEDIA_POLL_INITIAL_SECONDS": "0.2",
        "MEDIA_POLL_MAX_SECONDS": "0.5",
    }


def test_a_text_job_runs_to_success_on_the_worker_and_its_model_downloads(
    server_env: dict[str, str], settings, tmp_path: Path
) -> None:
    with tripo_server() as tripo:
        tripo.script = ["queued", "running:30", "running:70", "success"]
        settings.MEDIA_ROOT = str(tmp_path)  # one disk for both
        worker_env = _worker_with_tripo(server_env, settings, tripo, tmp_path)
        with celery_worker(worker_env):
            client, auth, _ = _api()
            response = _post(client, auth, TEXT, {"prompt": "a cropped bomber jacket"})
            assert response.status_code == 202, response.content
            job_id = response.json()["id"]
            assert poll(lambda: MediaJob.objects.get(pk=job_id).is_final, timeout=60), MediaJob.objects.get(
                pk=job_id
            ).__dict__

        job = MediaJob.objects.get(pk=job_id)
        assert job.status == MediaStatus.SUCCEEDED, (job.error_code, job.error)
        ops = [r["op"] for r in tripo.requests]
        assert ops.count("create") == 1
        assert ops.count("status") == 4  # queued, 30 %, 70 %, success: each poll a queued countdown
        detail = client.get(f"/api/v1/media/3d/jobs/{job_id}", **auth).json()
        assert (detail["status"], detail["progress"], detail["cost_usd"]) == ("succeeded", 100, "0.200000")
        model = next(f for f in detail["files"] if f["role"] == "model")
        download = client.get(model["download_url"], **auth)
        assert download.status_code == 200
        assert download.getvalue() == minimal_glb()


def test_with_a_bucket_the_worker_and_the_web_share_no_disk_and_the_download_works(
    server_env: dict[str, str], settings, tmp_path: Path
) -> None:
    """render.yaml's shape: the worker writes to its own disk, the web reads from its own;
    only the bucket (MEDIA_STORAGE=s3) is shared."""
    worker_disk, web_disk = tmp_path / "worker", tmp_path / "web"
    with tripo_server() as tripo, s3_server() as bucket:
        tripo.script = ["queued", "success"]
        settings.MEDIA_ROOT = str(web_disk)
        settings.MEDIA_STORAGE = "s3"
        settings.STORAGES = bucket.storages(settings.STORAGES)
        worker_env = {**_worker_with_tripo(server_env, settings, tripo, worker_disk), **bucket.env}
        with celery_worker(worker_env):
            client, auth, _ = _api()
            response = _post(client, auth, TEXT, {"prompt": "a wool overcoat"})
            assert response.status_code == 202, response.content
            job_id = response.json()["id"]
            assert poll(lambda: MediaJob.objects.get(pk=job_id).is_final, timeout=60)

        job = MediaJob.objects.get(pk=job_id)
        assert job.status == MediaStatus.SUCCEEDED, (job.error_code, job.error)
        assert f"media/media-jobs/{job_id}/model.glb" in bucket.object_keys()
        assert not [p for d in (worker_disk, web_disk) if d.exists() for p in d.rglob("*") if p.is_file()]
        detail = client.get(f"/api/v1/media/3d/jobs/{job_id}", **auth).json()
        model = next(f for f in detail["files"] if f["role"] == "model")
        download = client.get(model["download_url"], **auth)
        assert download.status_code == 200
        assert download.getvalue() == minimal_glb()
