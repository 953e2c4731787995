"""The campaigns' operator console: create through the service, actions that call
services, results on the page, and changelists with a fixed number of queries."""

# mypy: disable-error-code="no-untyped-def, misc, union-attr"
from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from django.conf import settings
from django.core import mail
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from agents_app.marketing.models import Campaign, CampaignMessage, CampaignStatus
from agents_app.models import AgentTask
from tests.agents_app.marketing.conftest import email_copy, multi_copy

pytestmark = pytest.mark.django_db

ADMIN = "/" + settings.ADMIN_URL
CAMPAIGNS = ADMIN + "agents_app/campaign/"
MESSAGES = ADMIN + "agents_app/campaignmessage/"


def _customers(shop: Any, count: int, start: int = 0) -> None:
    for i in range(start, start + count):
        shop.customer(f"p{i:03d}@example.com", first_name=f"P{i}", phone=f"+1510555{100 + i % 100:04d}")


def _add(client: Client, **fields: str) -> Any:
    data = {
        "name": "Summer",
        "campaign_type": "email",
        "audience": "{}",
        "content_template": "Summer sale for {first_name}",
        "send_at_0": "",
        "send_at_1": "",
        "budget": "",
        "ab": "",
        **fields,
    }
    return client.post(CAMPAIGNS + "add/", data)


def _sent_campaign(admin_client: Client, llm: Any, queue: Any, committed: Any, **fields: str) -> Campaign:
    with committed():
        response = _add(admin_client, **fields)
    assert response.status_code == 302, response.content.decode()[:2000]
    queue.drain()
    return Campaign.objects.order_by("-created_at").first()  # type: ignore[return-value]


def test_adding_a_campaign_in_the_admin_goes_through_the_service_and_the_agent_writes_it(
    admin_client: Client, shop, llm, queue, committed
) -> None:
    _customers(shop, 3)
    llm.queue(email_copy("Sun's out", "Hi {first_name}, summer is here."))
    campaign = _sent_campaign(admin_client, llm, queue, committed)
    assert campaign.status == CampaignStatus.COMPLETED
    assert campaign.created_by is not None
    assert campaign.created_by.is_superuser
    assert AgentTask.objects.get(pk=campaign.copy_task_id).action == "campaign_write_copy"
    assert sorted(m.body.split("\n\n--\n")[0] for m in mail.outbox) == [f"Hi P{i}, summer is here." for i in range(3)]
    page = admin_client.get(f"{CAMPAIGNS}{campaign.pk}/change/").content.decode()
    assert "Sun&#x27;s out" in page  # the variant inline
    assert "<td>A</td><td>email: 3 sent</td><td>3</td>" in page  # the results table
    assert "not tracked" in page


@pytest.mark.parametrize(
    ("fields", "error"),
    [
        ({"audience": '{"segmnet": "x"}'}, "/target_audience: Additional properties are not allowed"),
        ({"audience": "[1]"}, "A JSON object, please."),
        ({"content_template": "Hi {coupon}"}, "unknown placeholder(s) {coupon}"),
        ({"ab": '{"variants": 9}'}, "/ab_test/variants"),
        ({"budget": "-1"}, "/budget: must be positive"),
    ],
)
def test_a_bad_campaign_in_the_admin_form_is_shown_and_nothing_is_created(
    admin_client: Client, shop, llm, queue, fields, error
) -> None:
    response = _add(admin_client, **fields)
    assert response.status_code == 200
    assert error in response.content.decode().replace("&#x27;", "'")
    assert Campaign.objects.count() == AgentTask.objects.count() == 0


def test_the_admin_form_says_when_no_llm_provider_is_configured(admin_client: Client, catalog, providers) -> None:
    providers()
    response = _add(admin_client)
    assert response.status_code == 200
    assert "no LLM provider configured" in response.content.decode()
    assert Campaign.objects.count() == 0


def test_send_now_and_cancel_actions_call_the_services(admin_client: Client, shop, llm, queue, committed) -> None:
    _customers(shop, 2)
    llm.responder = lambda request: email_copy("Later", "Later, {first_name}")
    later = timezone.now() + timedelta(days=2)
    fields = {"send_at_0": later.strftime("%Y-%m-%d"), "send_at_1": later.strftime("%H:%M:%S")}
    first = _sent_campaign(admin_client, llm, queue, committed, name="First", **fields)
    second = _sent_campaign(admin_client, llm, queue, committed, name="Second", **fields)
    assert first.status == second.status == CampaignStatus.SCHEDULED

    with committed():
        admin_client.post(CAMPAIGNS, {"action": "send_now", "_selected_action": [str(first.pk)]})
    queue.drain()
    first.refresh_from_db()
    assert first.status == CampaignStatus.COMPLETED
    assert len(mail.outbox) == 2

    admin_client.post(CAMPAIGNS, {"action": "cancel_campaigns", "_selected_action": [str(first.pk), str(second.pk)]})
    second.refresh_from_db()
    assert second.status == CampaignStatus.CANCELLED
    messages = [str(m) for m in admin_client.get(CAMPAIGNS).context["messages"]]
    assert any("already completed" in m for m in messages)
    assert any("Cancelled 1 campaign(s)." in m for m in messages)


def _queries(client: Client, url: str) -> int:
    with CaptureQueriesContext(connection) as captured:
        response = client.get(url)
    assert response.status_code == 200
    return len(captured)


def test_campaign_and_message_changelists_read_a_fixed_number_of_queries(
    admin_client: Client, shop, llm, queue, committed
) -> None:
    _customers(shop, 3)
    llm.responder = lambda request: multi_copy("S", "E {first_name}", "T {first_name}", "P")
    _sent_campaign(admin_client, llm, queue, committed, campaign_type="multi_channel")
    small = (_queries(admin_client, CAMPAIGNS), _queries(admin_client, MESSAGES))

    _customers(shop, 12, start=3)
    for _ in range(3):
        _sent_campaign(admin_client, llm, queue, committed, campaign_type="multi_channel")
    assert CampaignMessage.objects.count() > 40
    large = (_queries(admin_client, CAMPAIGNS), _queries(admin_client, MESSAGES))
    assert large == small
    listing = admin_client.get(MESSAGES + "?status__exact=recorded").content.decode()
    assert "Recorded in the outbox only (no provider wired): not sent" in listing
    assert admin_client.get(f"{MESSAGES}{CampaignMessage.objects.first().pk}/change/").status_code == 200
