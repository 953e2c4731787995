"""Media jobs on the real queue machinery, the agents' tools, and the operator console."""

from __future__ import annotations

import threading
import time

import pytest
from django.conf import settings
from django.core.management import call_command
from django.test import Client

from agents_app.llm.models import SpendLedgerEntry
from agents_app.media.models import MediaJob, MediaStatus
from agents_app.media.services.steps import _claim, media_job_step
from agents_app.models import AgentTask, TaskStatus
from agents_app.services.execution import task_execute
from agents_app.services.tasks import task_create
from devskyy.core.roles import Role
from devskyy.feed.models import FeedEvent
from tests.agents_app.test_media_jobs import TEXT, Providers, _api, _post, drive, media  # noqa: F401 - fixture
from tests.support.auth import make_user

ADMIN = "/" + settings.ADMIN_URL


def _close_executor_connections() -> None:
    """Each embedded worker thread closes its database connection (or the test database
    cannot be dropped at the end of the session)."""
    from django.db import connections

    from devskyy.core.background import embedded_executor

    executor = embedded_executor()
    barrier = threading.Barrier(executor._max_workers)

    def close() -> None:
        connections.close_all()
        barrier.wait(timeout=10)

    for future in [executor.submit(close) for _ in range(executor._max_workers)]:
        future.result(timeout=15)


@pytest.mark.services
@pytest.mark.django_db(transaction=True)
def test_a_job_advances_itself_on_the_queue_with_timers_and_threads(media: Providers) -> None:  # noqa: F811
    # Embedded mode's executor and countdown timers, on PostgreSQL (row locks, not table locks).
    media.settings.TASKS_EMBEDDED = True
    client, auth, _ = _api()
    job_id = _post(client, auth, TEXT, {"prompt": "a leather jacket"}).json()["id"]
    deadline = time.monotonic() + 20
    while not MediaJob.objects.get(pk=job_id).is_final and time.monotonic() < deadline:
        time.sleep(0.05)
    _close_executor_connections()
    job = MediaJob.objects.get(pk=job_id)
    assert job.status == MediaStatus.SUCCEEDED, (job.status, job.error_code, job.error)
    assert job.polls >= 2
    events = list(FeedEvent.objects.filter(channel="3d_pipeline").order_by("seq").values_list("payload", flat=True))
    assert [e["status"] for e in events][0] == "queued"
    assert events[-1]["status"] == "succeeded"
    assert SpendLedgerEntry.objects.filter(details__media_job_id=job_id).count() == 1


@pytest.mark.services
@pytest.mark.django_db(transaction=True)
def test_a_step_held_by_one_worker_is_skipped_by_another(media: Providers) -> None:  # noqa: F811
    client, auth, _ = _api()
    job_id = _post(client, auth, TEXT, {"prompt": "a cap"}).json()["id"]
    claim = _claim(job_id)
    assert claim is not None
    assert media_job_step(job_id=job_id).status == "skipped"  # a duplicate delivery
    assert media.tripo.requests == []
    MediaJob.objects.filter(pk=job_id).update(lease_until=None)  # the first worker's lease lapses
    assert drive(job_id).status == MediaStatus.SUCCEEDED
    assert len(media.tripo.tasks) == 1


@pytest.mark.django_db(transaction=True)
def test_the_3d_artist_tool_starts_a_job_owned_by_the_requester_and_charged_to_the_agent(
    media: Providers,  # noqa: F811
) -> None:
    call_command("seed_agents", verbosity=0)
    user = make_user(Role.OPERATOR)
    created = task_create(
        agent_slug="creative-002",
        action="generate_3d_model",
        parameters={"prompt": "a rose-print bomber", "options": {"texture": True}},
        user=user,
    )
    assert task_execute(task_id=str(created.task.id), worker="test").outcome == "completed"
    task = AgentTask.objects.get(pk=created.task.id)
    assert task.status == TaskStatus.COMPLETED
    result: dict = task.result or {}
    job = MediaJob.objects.get(pk=result["job_id"])
    assert (job.agent_slug, job.agent_task_id, job.owner) == ("creative-002", str(task.id), f"user:{user.pk}")
    assert result["status_url"] == f"/api/v1/media/3d/jobs/{job.pk}"
    assert drive(str(job.pk)).status == MediaStatus.SUCCEEDED
    ledger = SpendLedgerEntry.objects.get()
    assert (ledger.agent_slug, ledger.task_id, ledger.kind) == ("creative-002", str(task.id), "3d")
    events = FeedEvent.objects.filter(channel="3d_pipeline", task_id=str(task.id))
    assert events.count() >= 3
    assert set(events.values_list("agent_id", flat=True)) == {"creative-002"}


@pytest.mark.django_db(transaction=True)
def test_the_tryon_tool_uses_a_products_image_by_sku(media: Providers) -> None:  # noqa: F811
    from commerce_app.models import Product

    call_command("seed_agents", verbosity=0)
    Product.objects.create(
        sku="LH-DRS-9", name="Dress", price="120", category="dresses", images=[f"{media.images.url}/garment.png"]
    )
    created = task_create(
        agent_slug="creative-003",
        action="virtual_tryon",
        parameters={"model_image_url": f"{media.images.url}/person.png", "sku": "LH-DRS-9", "category": "one-pieces"},
        user=make_user(Role.OPERATOR),
    )
    assert task_execute(task_id=str(created.task.id), worker="test").outcome == "completed"
    result: dict = AgentTask.objects.get(pk=created.task.id).result or {}
    job = MediaJob.objects.get(pk=result["job_id"])
    assert job.inputs["garment_image_url"] == f"{media.images.url}/garment.png"
    assert drive(str(job.pk)).status == MediaStatus.SUCCEEDED


@pytest.mark.django_db(transaction=True)
def test_operators_filter_cancel_and_retry_jobs_in_the_admin(media: Providers) -> None:  # noqa: F811
    media.tripo.script = ["running:10"]
    client, auth, _ = _api()
    running_id = _post(client, auth, TEXT, {"prompt": "a vest"}).json()["id"]
    media_job_step(job_id=running_id)
    admin_user = make_user(Role.ADMIN)
    admin_user.is_staff = admin_user.is_superuser = True
    admin_user.save()
    console = Client()
    console.force_login(admin_user)
    listing = console.get(ADMIN + "agents_app/mediajob/?status__exact=submitted&kind__exact=text_to_model")
    assert listing.status_code == 200
    assert running_id in listing.content.decode()
    assert console.get(ADMIN + f"agents_app/mediajob/{running_id}/change/").status_code == 200
    response = console.post(
        ADMIN + "agents_app/mediajob/", {"action": "cancel_jobs", "_selected_action": [running_id]}, follow=True
    )
    assert response.status_code == 200
    assert MediaJob.objects.get(pk=running_id).status == MediaStatus.CANCELLED
    media.tripo.script = []
    console.post(ADMIN + "agents_app/mediajob/", {"action": "retry_jobs", "_selected_action": [running_id]})
    retry = MediaJob.objects.exclude(pk=running_id).get()
    assert (retry.prompt, retry.owner) == ("a vest", MediaJob.objects.get(pk=running_id).owner)
    assert drive(str(retry.pk)).status == MediaStatus.SUCCEEDED
    page = console.get(ADMIN + f"agents_app/mediajob/{retry.pk}/change/").content.decode()
    assert f"/api/v1/media/jobs/{retry.pk}/files/" in page
