"""The ``pipeline_update`` event of 3D and try-on jobs (channel ``3d_pipeline``).

Payload (ISO-8601 UTC ``timestamp`` and ``seq`` added by the feed)::

    {"type": "pipeline_update", "seq", "timestamp", "job_id", "kind", "provider",
     "status", "stage", "progress", "product_id", "agent_id", "task_id",
     "error_code"?, "error"?, "cost_usd"?, "files"?: [{"id", "role", "name",
     "content_type", "size", "sha256", "download_url", "purged_at"}]}

``status``: queued, submitted, running, succeeded, failed, cancelled. ``stage``:
queued, fetching_inputs, generating, downloading, done, failed, cancelled.
``progress`` 0-100: Tripo's own progress while it generates (scaled into 5-90);
FASHN reports none, so its jobs move by stage (5 submitted, 50 processing, 90
downloading). Sent after the commit of each change of status, stage or progress;
visible to the job's user and staff (``owner_id``; jobs of API keys: staff), and to subscribers of the agent
task that created it (``task_id``).
"""

from __future__ import annotations

from typing import Any

from agents_app.media.models import MediaFile, MediaJob
from devskyy.core.events import publish

CHANNEL = "3d_pipeline"
EVENT = "pipeline_update"
# Jobs with no user owner (API-key or system jobs): an owner id no user has, so only
# staff see their events (``None`` would show them to every authenticated user).
STAFF_ONLY_OWNER = 0


def file_payload(job: MediaJob, media_file: MediaFile) -> dict[str, Any]:
    return {
        "id": media_file.pk,
        "role": media_file.role,
        "name": media_file.name,
        "content_type": media_file.content_type,
        "size": media_file.size,
        "sha256": media_file.sha256,
        "download_url": None if media_file.purged_at else f"/api/v1/media/jobs/{job.pk}/files/{media_file.pk}",
        "purged_at": media_file.purged_at.isoformat() if media_file.purged_at else None,
    }


def publish_pipeline_update(job: MediaJob, *, files: list[MediaFile] | None = None) -> None:
    payload: dict[str, Any] = {
        "job_id": str(job.pk),
        "kind": job.kind,
        "provider": job.provider,
        "status": job.status,
        "stage": job.stage,
        "progress": job.progress,
        "product_id": job.product_id,
        "agent_id": job.agent_slug,
        "task_id": job.agent_task_id,
    }
    if job.error_code:
        payload["error_code"] = job.error_code
        payload["error"] = job.error
    if job.status == "succeeded" or job.ledger_entry_id:
        payload["cost_usd"] = str(job.cost_usd)
    if files:
        payload["files"] = [file_payload(job, f) for f in files]
    publish(
        channel=CHANNEL,
        event_type=EVENT,
        payload=payload,
        agent_id=job.agent_slug,
        task_id=job.agent_task_id,
        owner_id=job.created_by_id if job.created_by_id is not None else STAFF_ONLY_OWNER,
    )
