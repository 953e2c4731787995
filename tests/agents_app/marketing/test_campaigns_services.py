"""Campaigns on real PostgreSQL and Redis: the race-free claim with concurrent
dispatchers, and a campaign run end to end by a real Celery worker process that writes
the copy through the loopback LLM server and sends through a loopback SMTP server."""

# mypy: disable-error-code="no-untyped-def, misc, union-attr"
from __future__ import annotations

import threading
from collections.abc import Callable
from datetime import timedelta
from typing import Any

import pytest
import redis
from django.conf import settings
from django.core import mail
from django.core.mail.backends import locmem
from django.db import connection
from django.utils import timezone

from agents_app.marketing.models import Campaign, CampaignMessage, CampaignStatus, CampaignVariant, MessageStatus
from agents_app.marketing.services import campaign_claim, campaign_send, campaigns_dispatch_due
from agents_app.models import AgentTask, TaskStatus
from commerce_app.models import Customer
from devskyy.core.roles import Role
from tests.agents_app.marketing.conftest import email_copy
from tests.support.auth import make_user
from tests.support.pg_faults import backend_killer
from tests.support.servers import celery_worker, poll
from tests.support.smtp_server import SMTPServer

pytestmark = [pytest.mark.services, pytest.mark.django_db(transaction=True)]


def _scheduled_campaign(customers: int, *, send_at: Any = None) -> Campaign:
    """A scheduled one-variant email campaign over ``customers`` consenting customers,
    written directly (the copy path has its own tests)."""
    Customer.objects.bulk_create(
        [Customer(email=f"r{i:03d}@example.com", first_name=f"R{i}", accepts_marketing=True) for i in range(customers)]
    )
    campaign = Campaign.objects.create(
        name="race",
        campaign_type="email",
        status=CampaignStatus.SCHEDULED,
        target_audience={"accepts_marketing": True},
        audience_size=customers,
        content_template="Hi {first_name}",
        send_at=send_at or timezone.now() - timedelta(seconds=1),
        agent_slug="marketing-002",
    )
    CampaignVariant.objects.create(campaign=campaign, label="A", weight=100, subject="Hi", email_body="Hi {first_name}")
    return campaign


def _together(count: int, work: Callable[[], Any]) -> list[Any]:
    """Run ``work`` on ``count`` threads released at the same moment; each closes its connection."""
    barrier = threading.Barrier(count)
    results: list[Any] = []
    errors: list[BaseException] = []

    def run() -> None:
        try:
            barrier.wait(timeout=10)
            results.append(work())
        except BaseException as exc:  # noqa: BLE001 - reported below
            errors.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=run) for _ in range(count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert not errors, errors
    return results


def test_concurrent_dispatchers_claim_a_due_campaign_once_and_send_each_message_once(settings) -> None:
    settings.EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
    mail.outbox = []
    campaign = _scheduled_campaign(40)

    reports = _together(4, lambda: campaigns_dispatch_due())

    sent = [r for report in reports for r in report.reports]
    assert [r.outcome for r in sent] == ["sent"]  # one dispatcher won the claim
    assert sorted(m.to[0] for m in mail.outbox) == [f"r{i:03d}@example.com" for i in range(40)]
    assert CampaignMessage.objects.filter(campaign=campaign, status=MessageStatus.SENT).count() == 40
    assert Campaign.objects.get(pk=campaign.pk).status == CampaignStatus.COMPLETED


def test_two_senders_on_one_campaign_never_send_a_message_twice(settings) -> None:
    """A sender whose lease expired while it still runs, and the one that took over."""
    settings.EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
    settings.MARKETING_SEND_BATCH_SIZE = 5
    mail.outbox = []
    campaign = _scheduled_campaign(60)
    assert campaign_claim(campaign_id=str(campaign.pk))

    reports = _together(2, lambda: campaign_send(campaign_id=str(campaign.pk)))

    assert len(mail.outbox) == 60
    assert len({m.to[0] for m in mail.outbox}) == 60
    assert sorted(r.outcome for r in reports)[0] in ("lease_lost", "sent")
    assert CampaignMessage.objects.filter(status=MessageStatus.SENT).count() == 60
    assert Campaign.objects.get(pk=campaign.pk).status == CampaignStatus.COMPLETED


def test_a_dispatcher_that_died_mid_send_is_resumed_without_resending_the_message_in_flight(settings) -> None:
    settings.EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
    mail.outbox = []
    campaign = _scheduled_campaign(5)
    now = timezone.now()
    assert campaign_claim(campaign_id=str(campaign.pk), now=now)
    # The dead dispatcher had prepared the messages and handed the first to SMTP.
    from agents_app.marketing.services import _prepare_messages

    _prepare_messages(Campaign.objects.get(pk=campaign.pk))
    first = CampaignMessage.objects.order_by("id").first()
    assert first is not None
    CampaignMessage.objects.filter(pk=first.pk).update(status=MessageStatus.SENDING)
    later = now + timedelta(seconds=settings.MARKETING_SEND_LEASE_SECONDS + 1)
    assert campaigns_dispatch_due(now=now + timedelta(seconds=1)).reports == []  # the lease still holds

    report = campaigns_dispatch_due(now=later)

    assert [r.outcome for r in report.reports] == ["sent"]
    first.refresh_from_db()
    assert (first.status, first.reason) == (MessageStatus.FAILED, "outcome_unknown")
    assert len(mail.outbox) == 4
    assert first.recipient not in [m.to[0] for m in mail.outbox]


class _ConnectionKillingBackend(locmem.EmailBackend):
    """Django's test mail backend that, on its first send, terminates the sending
    thread's PostgreSQL backend: the database is lost while messages are with SMTP."""

    killed = False

    def send_messages(self, messages):
        if not _ConnectionKillingBackend.killed:
            _ConnectionKillingBackend.killed = True
            backend_killer()()
        return super().send_messages(messages)


def test_outcomes_of_messages_sent_while_the_database_was_lost_are_recorded(settings) -> None:
    """The connection dies while the chunk is with the mail backend: the outcomes are
    written on a new connection (core/durability.py, through_outage), so every message
    is ``sent``, none ``outcome unknown``, and none went out twice."""
    settings.EMAIL_BACKEND = f"{__name__}._ConnectionKillingBackend"
    _ConnectionKillingBackend.killed = False
    mail.outbox = []
    campaign = _scheduled_campaign(5)
    assert campaign_claim(campaign_id=str(campaign.pk))

    report = campaign_send(campaign_id=str(campaign.pk))

    assert _ConnectionKillingBackend.killed
    assert report.outcome == "sent", report
    assert sorted(m.to[0] for m in mail.outbox) == [f"r{i:03d}@example.com" for i in range(5)]
    statuses = list(CampaignMessage.objects.filter(campaign=campaign).values_list("status", flat=True))
    assert statuses == [MessageStatus.SENT] * 5
    assert Campaign.objects.get(pk=campaign.pk).status == CampaignStatus.COMPLETED


@pytest.fixture
def broker() -> redis.Redis:
    client = redis.Redis.from_url(settings.CELERY_BROKER_URL)
    client.delete("celery", "unacked", "unacked_index", "unacked_mutex")
    return client


@pytest.mark.slow
def test_a_celery_worker_writes_the_copy_and_sends_the_campaign_over_smtp(
    server_env, broker, servers, providers, catalog
) -> None:
    from rest_framework.test import APIClient

    llm = servers("openai")
    llm.responder = lambda request: email_copy("Drop day", "Hi {first_name}, Love Hurts drops today.")
    providers(openai=llm)
    for name in ("ana", "ben", "cy"):
        Customer.objects.create(email=f"{name}@example.com", first_name=name.title(), accepts_marketing=True)
    Customer.objects.create(email="eve@example.com", first_name="Eve", accepts_marketing=False)
    client = APIClient()
    client.force_authenticate(make_user(Role.OPERATOR))

    with SMTPServer() as smtp:
        env = {
            **server_env,
            "OPENAI_API_KEY": "test-key-openai",
            "OPENAI_BASE_URL": llm.base_url,
            "EMAIL_HOST": "127.0.0.1",
            "EMAIL_PORT": str(smtp.port),
            "MARKETING_FROM_EMAIL": "SkyyRose <drops@skyyrose.co>",
        }
        with celery_worker(env, concurrency=2):
            response = client.post(
                "/api/v1/marketing/campaigns",
                {
                    "campaign_type": "email",
                    "content_template": "Love Hurts drop for {first_name}",
                    "ab_test": {"variants": 2},
                },
                format="json",
            )
            assert response.status_code == 202, response.json()
            campaign_id = response.json()["id"]
            done = poll(
                lambda: (
                    Campaign.objects.get(pk=campaign_id).status in (CampaignStatus.COMPLETED, CampaignStatus.FAILED)
                ),
                timeout=60,
                interval=0.2,
            )
        assert done, Campaign.objects.get(pk=campaign_id).__dict__
        campaign = Campaign.objects.get(pk=campaign_id)
        assert campaign.status == CampaignStatus.COMPLETED, campaign.error
        assert AgentTask.objects.get(pk=campaign.copy_task_id).status == TaskStatus.COMPLETED
        received = smtp.messages()
    assert sorted(r.recipients[0] for r in received) == ["ana@example.com", "ben@example.com", "cy@example.com"]
    ana = next(r.message for r in received if r.recipients == ["ana@example.com"])
    assert ana["Subject"] == "Drop day"
    assert ana["From"] == "SkyyRose <drops@skyyrose.co>"
    assert ana.get_content_type() == "multipart/alternative"
    parts = {
        part.get_content_type(): part.get_payload(decode=True).decode()
        for part in ana.walk()
        if not part.is_multipart()
    }
    assert "Hi Ana, Love Hurts drops today." in parts["text/plain"]
    assert "<p>Hi Ana, Love Hurts drops today.</p>" in parts["text/html"]
    rows = CampaignMessage.objects.filter(campaign_id=campaign_id)
    assert {r.status for r in rows} == {MessageStatus.SENT}
    assert ana["Message-ID"] == rows.get(recipient="ana@example.com").provider_message_id
    assert llm.request_count == 2
