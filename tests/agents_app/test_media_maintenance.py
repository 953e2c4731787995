"""Media job maintenance: re-queueing lost steps, and a cancel that races the paid submission."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal
from io import StringIO

import pytest
from django.core.management import call_command
from django.db import connections
from django.utils import timezone

from agents_app.llm.models import SpendLedgerEntry
from agents_app.media.models import MediaJob, MediaStatus
from agents_app.media.services.jobs import media_job_cancel
from agents_app.media.services.steps import media_job_step
from devskyy.taskqueue import app
from tests.agents_app.test_media_jobs import TEXT, Providers, _api, _post, media  # noqa: F401 - fixture
from tests.support.pg_faults import backend_killer


@pytest.mark.django_db(transaction=True)
def test_requeue_command_queues_only_stale_active_jobs(media: Providers) -> None:  # noqa: F811
    client, auth, _ = _api()
    ids = [_post(client, auth, TEXT, {"prompt": f"item {n}"}).json()["id"] for n in range(3)]
    app.control.purge()  # the steps creation queued
    old = timezone.now() - timedelta(minutes=10)
    MediaJob.objects.filter(pk__in=ids[:2]).update(updated_at=old)
    MediaJob.objects.filter(pk=ids[1]).update(status=MediaStatus.FAILED)  # finished: never re-queued
    out = StringIO()
    call_command("requeue_media_jobs", stdout=out)
    assert "of 1 media job(s)" in out.getvalue()
    assert app.control.purge() == 1
    call_command("requeue_media_jobs", "--stale-seconds", "0", stdout=out)
    assert app.control.purge() == 2  # the fresh one too, once it counts as stale


@pytest.mark.services
@pytest.mark.django_db(transaction=True)
def test_a_cancel_during_the_paid_submission_still_records_the_bill(media: Providers) -> None:  # noqa: F811
    client, auth, _ = _api()
    job_id = _post(client, auth, TEXT, {"prompt": "a parka"}).json()["id"]

    def cancel_while_creating() -> None:  # runs in the Tripo server's thread, before it answers
        try:
            media_job_cancel(job=MediaJob.objects.get(pk=job_id))
        finally:
            connections.close_all()

    media.tripo.on_create = cancel_while_creating
    assert media_job_step(job_id=job_id).status == "skipped"
    job = MediaJob.objects.get(pk=job_id)
    assert job.status == MediaStatus.CANCELLED
    assert job.provider_task_id in media.tripo.tasks
    ledger = SpendLedgerEntry.objects.get()
    assert (ledger.amount, ledger.outcome) == (Decimal("0.2"), "cancelled")
    assert job.ledger_entry_id == ledger.pk


@pytest.mark.services
@pytest.mark.django_db(transaction=True)
def test_a_connection_lost_during_the_paid_submission_records_it_without_paying_twice(
    media: Providers,  # noqa: F811
) -> None:
    """The worker's database connection dies while Tripo creates the task: the submission
    is recorded on a new connection (core/durability.py, through_outage) and the job goes
    on to succeed with one task created at the provider, not a second once the claim lapses."""

    from tests.agents_app.test_media_jobs import drive

    client, auth, _ = _api()
    job_id = _post(client, auth, TEXT, {"prompt": "a trench coat"}).json()["id"]
    media.tripo.on_create = backend_killer()  # runs in the Tripo server's thread, before it answers
    assert media_job_step(job_id=job_id).status == MediaStatus.SUBMITTED
    media.tripo.on_create = None
    job = drive(job_id)
    assert job.status == MediaStatus.SUCCEEDED, (job.error_code, job.error)
    assert [r["op"] for r in media.tripo.requests].count("create") == 1
    assert len(media.tripo.tasks) == 1
    assert SpendLedgerEntry.objects.get().amount == Decimal("0.2")


@pytest.mark.django_db(transaction=True)
def test_a_job_whose_first_step_the_broker_refused_is_accepted_marked_and_swept_young(
    media: Providers,  # noqa: F811
    monkeypatch,
) -> None:
    from kombu.exceptions import OperationalError as BrokerError

    from agents_app.media.services import steps
    from devskyy.core import background

    def unreachable(task: object, job_id: str, countdown: float) -> None:
        raise BrokerError("Error 111 connecting to 127.0.0.1:6379. Connection refused.")

    monkeypatch.setattr(background, "_broker_down_until", 0.0)  # restored after: the breaker it opens
    monkeypatch.setattr(steps, "dispatch_later", unreachable)
    client, auth, _ = _api()
    response = _post(client, auth, TEXT, {"prompt": "a kilt"})
    assert response.status_code == 202, response.content
    job = MediaJob.objects.get(pk=response.json()["id"])
    assert job.status == MediaStatus.QUEUED
    assert job.enqueue_failed_at is not None

    sent: list[str] = []
    monkeypatch.setattr(steps, "dispatch_later", lambda task, job_id, countdown: sent.append(job_id))
    assert steps.media_jobs_requeue(stale_seconds=300) == 1  # seconds old: the mark, not the age
    assert sent == [str(job.pk)]
    assert MediaJob.objects.get(pk=job.pk).enqueue_failed_at is None
    assert steps.media_jobs_requeue(stale_seconds=300) == 0  # once
