"""Campaigns end to end in process: created over the API, copy written by the marketing
agent's task through the loopback LLM server, sent by the dispatcher at its time through
Django's email backend and the outbox backend, results computed from what was sent."""

# mypy: disable-error-code="no-untyped-def, index, union-attr, operator"
from __future__ import annotations

from datetime import timedelta
from decimal import Decimal
from typing import Any

import pytest
from django.core import mail
from django.core.mail import EmailMultiAlternatives
from django.core.management import call_command
from django.utils import timezone

from agents_app.llm.models import SpendLedgerEntry
from agents_app.marketing.models import Campaign, CampaignMessage, CampaignStatus, CampaignVariant, MessageStatus
from agents_app.marketing.services import campaigns_dispatch_due
from agents_app.models import AgentTask, TaskStatus
from commerce_app.models import Customer, OrderStatus
from devskyy.core.models import AuditLog
from tests.agents_app.marketing.conftest import email_copy, multi_copy
from tests.support.llm_servers import openai_text

pytestmark = pytest.mark.django_db
BOTH = pytest.mark.parametrize("backend", ["embedded", pytest.param("services", marks=pytest.mark.services)])

URL = "/api/v1/marketing/campaigns"


@pytest.fixture
def audience(shop):
    """Four consenting customers (two with phones, one without a name), one without consent."""
    ana = shop.customer("ana@example.com", first_name="Ana", last_name="Reyes", phone="+15105550101")
    ben = shop.customer("ben@example.com", first_name="Ben", phone="+15105550102")
    cy = shop.customer("cy@example.com")
    dee = shop.customer("dee@example.com", first_name="Dee")
    shop.customer("eve@example.com", first_name="Eve", accepts_marketing=False, phone="+15105550103")
    return {"ana": ana, "ben": ben, "cy": cy, "dee": dee}


def _create(api, body: dict[str, Any], *, committed) -> dict[str, Any]:
    with committed():
        response = api.post(URL, body, format="json")
    assert response.status_code == 202, response.json()
    return response.json()


def _email_campaign(**overrides: Any) -> dict[str, Any]:
    return {
        "name": "Black Rose restock",
        "campaign_type": "email",
        "target_audience": {},
        "content_template": "Tell {first_name} the Black Rose hoodie is back in every size.",
        "ab_test": {"variants": 2, "split": [50, 50]},
        **overrides,
    }


def test_the_marketing_agent_writes_each_variant_through_the_gateway_and_the_campaign_is_scheduled(
    api, audience, llm, queue, committed, events
) -> None:
    llm.queue(
        email_copy("Black Rose is back", "Hi {first_name}, the hoodie you loved is back."),
        email_copy("Your size is waiting", "{first_name}, every size of Black Rose is in stock."),
    )
    future = timezone.now() + timedelta(hours=2)
    created = _create(api, _email_campaign(schedule={"send_at": future.isoformat()}), committed=committed)
    assert created["status"] == "draft"
    assert created["agent_id"] == "marketing-002"
    assert created["audience_size"] == 4
    assert created["variants"] == []

    queue.drain()

    campaign = Campaign.objects.get(pk=created["id"])
    assert campaign.status == CampaignStatus.SCHEDULED
    variants = {v.label: v for v in campaign.variants.all()}
    assert variants["A"].subject == "Black Rose is back"
    assert variants["A"].email_body == "Hi {first_name}, the hoodie you loved is back."
    assert variants["B"].subject == "Your size is waiting"
    assert [variants["A"].weight, variants["B"].weight] == [50, 50]
    # Two real calls, each in the ledger with the campaign's ref, summed onto the task.
    assert llm.request_count == 2
    prompt = llm.requests[1].json["messages"][-1]["content"]
    assert "variant B of 2" in prompt
    assert "Black Rose is back" in prompt
    ledger = SpendLedgerEntry.objects.filter(campaign_ref=str(campaign.id))
    assert ledger.count() == 2
    assert {e.purpose for e in ledger} == {"campaign_copy"}
    assert sorted(str(pk) for pk in ledger.values_list("pk", flat=True)) == sorted(
        variants["A"].ledger_entry_ids + variants["B"].ledger_entry_ids
    )
    task = AgentTask.objects.get(pk=created["copy_task_id"])
    assert task.status == TaskStatus.COMPLETED
    assert task.action == "campaign_write_copy"
    assert task.tokens == 2 * (300 + 120)
    assert task.cost == sum((e.amount for e in ledger), Decimal("0")).quantize(Decimal("0.000001")) > 0
    assert [s["variant"] for s in task.result["steps"]] == ["A", "B"]
    assert [kind for kind, _ in events()] == ["campaign.scheduled"]
    detail = api.get(f"{URL}/{campaign.id}").json()
    assert detail["status"] == "scheduled"
    assert [v["label"] for v in detail["variants"]] == ["A", "B"]


@BOTH
def test_a_future_campaign_is_sent_at_its_time_once_with_personalised_email(
    backend, api, audience, llm, queue, committed, events
) -> None:
    llm.queue(email_copy("Back in stock", "Hi {first_name} {last_name}, it is back. {{Members only}}"))
    send_at = timezone.now() + timedelta(minutes=30)
    created = _create(
        api, _email_campaign(ab_test=None, schedule={"send_at": send_at.isoformat()}), committed=committed
    )
    queue.drain()
    assert queue.names[-1] == "agents_app.tasks.run_agent_task"  # nothing queued for sending yet

    before = campaigns_dispatch_due(now=send_at - timedelta(seconds=1))
    assert before.due == 0
    assert CampaignMessage.objects.count() == 0
    assert mail.outbox == []

    with committed():
        first = campaigns_dispatch_due(now=send_at + timedelta(seconds=1))
    assert [r.outcome for r in first.reports] == ["sent"]
    campaign = Campaign.objects.get(pk=created["id"])
    assert campaign.status == CampaignStatus.COMPLETED
    # Four consenting customers; Eve gave no consent and is not in the audience at all.
    assert sorted(m.to[0] for m in mail.outbox) == [
        "ana@example.com",
        "ben@example.com",
        "cy@example.com",
        "dee@example.com",
    ]
    ana = next(m for m in mail.outbox if m.to == ["ana@example.com"])
    assert ana.subject == "Back in stock"
    assert ana.body.startswith("Hi Ana Reyes, it is back. {Members only}\n\n--\n")
    assert isinstance(ana, EmailMultiAlternatives)
    [(html, mimetype)] = ana.alternatives
    assert mimetype == "text/html"
    assert "<p>Hi Ana Reyes, it is back. {Members only}</p>" in html
    assert f'href="{ana.extra_headers["List-Unsubscribe"][1:-1]}"' in html
    cy = next(m for m in mail.outbox if m.to == ["cy@example.com"])
    assert cy.body.startswith("Hi there , it is back. {Members only}\n\n--\n")
    rows = CampaignMessage.objects.filter(campaign=campaign)
    assert {r.status for r in rows} == {MessageStatus.SENT}
    assert {r.backend for r in rows} == {"django_email"}
    assert all(r.provider_message_id and r.sent_at for r in rows)
    assert ana.extra_headers["Message-ID"] == rows.get(recipient="ana@example.com").provider_message_id

    again = campaigns_dispatch_due(now=send_at + timedelta(minutes=5))
    assert again.due == 0
    assert again.reports == []
    assert len(mail.outbox) == 4
    assert [kind for kind, _ in events()] == ["campaign.scheduled", "campaign.sent", "campaign.completed"]
    completed = events()[-1][1]
    assert completed["counts"] == {"sent": 4}


@BOTH
def test_campaign_html_escapes_the_copy_and_keeps_its_paragraphs_and_links(
    backend, api, audience, llm, queue, committed
) -> None:
    body = "Hi {first_name}, <b>50% off</b> & more.\n\nShop now: https://skyyrose.co/drop <script>x()</script>"
    llm.queue(email_copy("Drop <today>", body))
    send_at = timezone.now() + timedelta(minutes=5)
    _create(api, _email_campaign(ab_test=None, schedule={"send_at": send_at.isoformat()}), committed=committed)
    queue.drain()
    with committed():
        campaigns_dispatch_due(now=send_at + timedelta(seconds=1))
    ana = next(m for m in mail.outbox if m.to == ["ana@example.com"])
    assert isinstance(ana, EmailMultiAlternatives)
    [(html, _)] = ana.alternatives
    assert "<title>Drop &lt;today&gt;</title>" in html
    assert "<p>Hi Ana, &lt;b&gt;50% off&lt;/b&gt; &amp; more.</p>" in html
    assert '<a href="https://skyyrose.co/drop" rel="nofollow">https://skyyrose.co/drop</a>' in html
    assert "<script>" not in html
    assert "&lt;script&gt;x()&lt;/script&gt;" in html
    assert ana.body.startswith("Hi Ana, <b>50% off</b> & more.")  # the text part is the copy as written


@BOTH
def test_a_multi_channel_campaign_records_sms_and_social_without_pretending_they_were_sent(
    backend, api, audience, llm, queue, committed
) -> None:
    llm.queue(
        multi_copy(
            "New drop", "Hi {first_name}, the drop is live.", "{first_name}: drop live. Reply STOP", "Drop is live."
        )
    )
    created = _create(
        api,
        {
            "campaign_type": "multi_channel",
            "target_audience": {"accepts_marketing": False},
            "content_template": "Announce the Love Hurts drop to {first_name}.",
        },
        committed=committed,
    )
    assert created["agent_id"] == "marketing-001"
    assert created["audience_size"] == 5
    queue.drain()  # copy task, then the send queued because send_at was "now"
    assert "agents_app.marketing.tasks.send_campaign" in queue.names

    campaign = Campaign.objects.get(pk=created["id"])
    assert campaign.status == CampaignStatus.COMPLETED
    messages = {(m.channel, m.recipient or m.customer_id): m for m in CampaignMessage.objects.filter(campaign=campaign)}
    sms_ana = messages[("sms", "+15105550101")]
    assert sms_ana.status == MessageStatus.RECORDED
    assert sms_ana.body == "Ana: drop live. Reply STOP"
    assert sms_ana.backend == "outbox"
    assert messages[("sms", audience["cy"].pk)].status == MessageStatus.SKIPPED
    assert messages[("sms", audience["cy"].pk)].reason == "no_phone_number"
    eve = CampaignMessage.objects.filter(campaign=campaign, customer__email="eve@example.com")
    assert {(m.channel, m.status, m.reason) for m in eve} == {
        ("email", "skipped", "no_marketing_consent"),
        ("sms", "skipped", "no_marketing_consent"),
    }
    social = CampaignMessage.objects.get(campaign=campaign, channel="social")
    assert (social.status, social.body, social.customer_id) == ("recorded", "Drop is live.", None)
    assert sorted(m.to[0] for m in mail.outbox) == [
        "ana@example.com",
        "ben@example.com",
        "cy@example.com",
        "dee@example.com",
    ]
    results = api.get(f"{URL}/{campaign.id}/results").json()
    assert results["messages"] == {
        "pending": 0,
        "sending": 0,
        "sent": 4,
        "recorded": 3,
        "failed": 0,
        "skipped": 4,
    }
    assert results["variants"][0]["messages"]["sms"] == {"recorded": 2, "skipped": 3}
    assert "not tracked" in results["tracking"]
    outbox = api.get(f"{URL}/{campaign.id}/messages?channel=sms&status=recorded").json()
    assert outbox["count"] == 2
    assert {m["status_label"] for m in outbox["results"]} == {
        "Recorded in the outbox only (no provider wired): not sent"
    }


@BOTH
def test_results_count_the_message_rows_and_attribute_orders_placed_after_a_sent_message(
    backend, api, audience, llm, queue, committed, shop, settings
) -> None:
    settings.MARKETING_ATTRIBUTION_DAYS = 7
    llm.queue(email_copy("A", "Body A {first_name}"), email_copy("B", "Body B {first_name}"))
    created = _create(api, _email_campaign(), committed=committed)
    queue.drain()
    campaign = Campaign.objects.get(pk=created["id"])
    rows = list(CampaignMessage.objects.filter(campaign=campaign).select_related("variant", "customer"))
    assert len(rows) == 4
    by_email = {r.customer.email: r for r in rows}
    sent_at = by_email["ana@example.com"].sent_at
    # ana: one order inside the window, one before the message, one after the window.
    shop.order(audience["ana"], at=sent_at + timedelta(days=1), total="150.00")
    shop.order(audience["ana"], at=sent_at - timedelta(hours=1), total="999.00")
    shop.order(audience["ana"], at=sent_at + timedelta(days=8), total="888.00")
    # ben: a cancelled order (not revenue) and a processing one inside the window.
    shop.order(
        audience["ben"], at=by_email["ben@example.com"].sent_at + timedelta(hours=3), status=OrderStatus.CANCELLED
    )
    shop.order(
        audience["ben"],
        at=by_email["ben@example.com"].sent_at + timedelta(hours=4),
        total="75.50",
        status=OrderStatus.PROCESSING,
    )
    # eve got nothing (no consent): her order is not the campaign's.
    shop.order(Customer.objects.get(email="eve@example.com"), at=sent_at + timedelta(hours=1), total="500.00")

    results = api.get(f"{URL}/{campaign.id}/results").json()
    expected: dict[str, dict[str, Any]] = {
        "A": {"orders": 0, "revenue": Decimal("0")},
        "B": {"orders": 0, "revenue": Decimal("0")},
    }
    expected[by_email["ana@example.com"].variant.label]["orders"] += 1
    expected[by_email["ana@example.com"].variant.label]["revenue"] += Decimal("150.00")
    expected[by_email["ben@example.com"].variant.label]["orders"] += 1
    expected[by_email["ben@example.com"].variant.label]["revenue"] += Decimal("75.50")
    for variant in results["variants"]:
        label = variant["label"]
        assert variant["attributed_orders"] == expected[label]["orders"]
        assert Decimal(variant["attributed_revenue"]) == expected[label]["revenue"]
        sent_rows = [r for r in rows if r.variant.label == label]
        assert variant["recipients_sent"] == len(sent_rows)
        assert variant["messages"] == ({"email": {"sent": len(sent_rows)}} if sent_rows else {})
    assert results["attributed_orders"] == 2
    assert Decimal(results["attributed_revenue"]) == Decimal("225.50")
    assert Decimal(results["spend_usd"]) == sum(
        (e.amount for e in SpendLedgerEntry.objects.filter(campaign_ref=str(campaign.id))), Decimal("0")
    ).quantize(Decimal("0.000001"))


def test_variants_split_recipients_by_weight_and_each_customer_keeps_one_variant(
    api, shop, llm, queue, committed
) -> None:
    for i in range(60):
        shop.customer(f"c{i:02d}@example.com", first_name=f"C{i}")
    llm.queue(email_copy("A", "a"), email_copy("B", "b"), email_copy("C", "c"))
    created = _create(api, _email_campaign(ab_test={"variants": 3, "split": [60, 20, 20]}), committed=committed)
    queue.drain()
    counts = {v.label: v.messages.count() for v in CampaignVariant.objects.filter(campaign_id=created["id"])}
    assert sum(counts.values()) == 60
    assert counts["A"] > counts["B"]
    assert counts["A"] > counts["C"]
    assert all(m.subject == m.variant.subject for m in CampaignMessage.objects.select_related("variant"))


@pytest.mark.parametrize(
    ("change", "code", "path"),
    [
        ({"target_audience": {"segmnet": "champions"}}, "invalid_audience", "/target_audience"),
        ({"target_audience": ["min_orders"]}, "validation_error", None),
        ({"campaign_type": "fax"}, "validation_error", None),
        ({"schedule": {"send_at": "next tuesday"}}, "validation_error", None),
        ({"schedule": {"send_at": "2030-06-01T09:00:00"}}, "validation_error", None),
        ({"schedule": {"send_at": "2020-06-01T09:00:00Z"}}, "invalid_campaign", "/schedule/send_at"),
        ({"budget": "-5"}, "invalid_campaign", "/budget"),
        ({"budget": "0"}, "invalid_campaign", "/budget"),
        ({"content_template": "Hi {first_name}, use {discount_code}"}, "invalid_campaign", "/content_template"),
        ({"content_template": "   "}, "validation_error", None),
        ({"ab_test": {"variants": 1}}, "invalid_campaign", "/ab_test/variants"),
        ({"ab_test": {"variants": 5}}, "invalid_campaign", "/ab_test/variants"),
        ({"ab_test": {"variants": 2, "split": [70, 20]}}, "invalid_campaign", "/ab_test/split"),
        ({"ab_test": {"variants": 2, "winner": "A"}}, "invalid_campaign", "/ab_test"),
    ],
)
def test_a_bad_campaign_request_is_400_and_writes_nothing(api, audience, llm, queue, committed, change, code, path):
    before = (Campaign.objects.count(), AgentTask.objects.count(), AuditLog.objects.count())
    with committed():
        response = api.post(URL, _email_campaign(**change), format="json")
    assert response.status_code == 400, response.json()
    error = response.json()["error"]
    assert error["code"] == code
    if path:
        assert path in [e["path"] for e in error["details"]["errors"]]
    assert (Campaign.objects.count(), AgentTask.objects.count(), AuditLog.objects.count()) == before
    assert queue.pending == []
    assert llm.request_count == 0


def test_without_an_llm_provider_the_request_is_503_and_writes_nothing(api, audience, catalog, providers, queue):
    providers()  # none enabled
    response = api.post(URL, _email_campaign(), format="json")
    assert response.status_code == 503
    assert response.json()["error"]["code"] == "llm_not_configured"
    assert Campaign.objects.count() == AgentTask.objects.count() == 0
    assert queue.pending == []


def test_an_answer_without_the_asked_sections_fails_the_campaign_and_sends_nothing(
    api, audience, llm, queue, committed, events
) -> None:
    llm.queue(openai_text("Sure! Here is a great email about hoodies."))
    created = _create(api, _email_campaign(ab_test=None), committed=committed)
    queue.drain()
    campaign = Campaign.objects.get(pk=created["id"])
    assert (campaign.status, campaign.error_code) == (CampaignStatus.FAILED, "invalid_copy")
    assert AgentTask.objects.get(pk=created["copy_task_id"]).error_code == "invalid_copy"
    assert campaigns_dispatch_due().due == 0
    assert mail.outbox == []
    assert events() == []


def test_the_campaign_budget_stops_copy_writing_before_the_next_paid_call(api, audience, llm, queue, committed) -> None:
    # The first answer reports a million prompt tokens: far beyond a 0.50 budget.
    llm.queue(openai_text("SUBJECT: A\nEMAIL:\nBody", prompt_tokens=1_000_000, completion_tokens=10))
    created = _create(api, _email_campaign(budget="0.50"), committed=committed)
    queue.drain()
    campaign = Campaign.objects.get(pk=created["id"])
    assert (campaign.status, campaign.error_code) == (CampaignStatus.FAILED, "campaign_budget_exceeded")
    assert llm.request_count == 1
    assert CampaignVariant.objects.count() == 0


def test_a_cancelled_campaign_never_sends(api, audience, llm, queue, committed) -> None:
    llm.queue(email_copy("A", "a"))
    send_at = timezone.now() + timedelta(hours=1)
    created = _create(
        api, _email_campaign(ab_test=None, schedule={"send_at": send_at.isoformat()}), committed=committed
    )
    queue.drain()
    with committed():
        response = api.post(f"{URL}/{created['id']}/cancel")
    assert response.status_code == 200
    assert response.json()["status"] == "cancelled"
    assert campaigns_dispatch_due(now=send_at + timedelta(minutes=1)).due == 0
    assert CampaignMessage.objects.count() == 0
    assert mail.outbox == []
    again = api.post(f"{URL}/{created['id']}/cancel")
    assert again.status_code == 409
    assert again.json()["error"]["code"] == "campaign_state_conflict"
    assert api.post(f"{URL}/{created['id']}/send-now").status_code == 409
    assert AuditLog.objects.filter(action="campaign.cancel", target_id=created["id"]).count() == 1


def test_cancelling_a_draft_cancels_the_copy_task_and_it_never_schedules(api, audience, llm, queue, committed) -> None:
    created = _create(api, _email_campaign(), committed=committed)
    with committed():
        assert api.post(f"{URL}/{created['id']}/cancel").status_code == 200
    queue.drain()
    assert AgentTask.objects.get(pk=created["copy_task_id"]).status == TaskStatus.CANCELLED
    assert Campaign.objects.get(pk=created["id"]).status == CampaignStatus.CANCELLED
    assert llm.request_count == 0


def test_a_campaign_cancelled_while_sending_stops_and_skips_the_rest(
    api, audience, llm, queue, committed, monkeypatch
) -> None:
    from agents_app.marketing import channels, services

    llm.queue(email_copy("A", "a"))
    created = _create(
        api,
        _email_campaign(ab_test=None, schedule={"send_at": (timezone.now() + timedelta(hours=1)).isoformat()}),
        committed=committed,
    )
    queue.drain()
    campaign = Campaign.objects.get(pk=created["id"])
    sent: list[str] = []
    real = channels.DjangoEmailBackend.send

    def send_then_cancel(self, message):
        sent.append(message.recipient)
        if len(sent) == 1:  # the operator cancels while the first message goes out
            services.campaign_cancel(campaign=campaign)
        return real(self, message)

    monkeypatch.setattr(channels.DjangoEmailBackend, "send", send_then_cancel)
    monkeypatch.setattr(services, "RENEW_SECONDS", 0.0)  # check the lease (and a cancel) before every chunk
    monkeypatch.setattr(services, "IN_FLIGHT", 1)  # of one message
    report = campaigns_dispatch_due(now=campaign.send_at + timedelta(seconds=1))
    assert report.reports[0].outcome == "cancelled"
    assert len(sent) == 1
    assert len(mail.outbox) == 1
    statuses = sorted(CampaignMessage.objects.values_list("status", "reason"))
    assert statuses == [("sent", ""), *[("skipped", "campaign_cancelled")] * 3]


def test_send_now_moves_a_scheduled_campaign_to_now_and_sends_it(api, audience, llm, queue, committed) -> None:
    llm.queue(email_copy("A", "a"))
    later = timezone.now() + timedelta(days=3)
    created = _create(api, _email_campaign(ab_test=None, schedule={"send_at": later.isoformat()}), committed=committed)
    queue.drain()
    with committed():
        response = api.post(f"{URL}/{created['id']}/send-now")
    assert response.status_code == 202
    queue.drain()
    assert Campaign.objects.get(pk=created["id"]).status == CampaignStatus.COMPLETED
    assert len(mail.outbox) == 4


def test_an_email_the_smtp_server_refuses_is_recorded_failed_with_its_error(
    api, audience, llm, queue, committed, settings
) -> None:
    from tests.support.servers import closed_port

    settings.EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
    settings.EMAIL_HOST, settings.EMAIL_PORT, settings.EMAIL_TIMEOUT = "127.0.0.1", closed_port(), 2
    llm.queue(email_copy("A", "a"))
    created = _create(api, _email_campaign(ab_test=None), committed=committed)
    queue.drain()
    campaign = Campaign.objects.get(pk=created["id"])
    assert campaign.status == CampaignStatus.FAILED
    assert campaign.error_code == "all_messages_failed"
    rows = CampaignMessage.objects.filter(campaign=campaign)
    assert {r.status for r in rows} == {MessageStatus.FAILED}
    assert all("ConnectionRefusedError" in r.error and r.sent_at is None for r in rows)
    out = api.get(f"{URL}/{campaign.id}").json()
    assert out["results"]["messages"]["failed"] == 4
    assert out["results"]["messages"]["sent"] == 0


def test_the_list_reads_a_fixed_number_of_queries_whatever_its_length(
    api, audience, llm, queue, committed, django_assert_num_queries
) -> None:
    llm.responder = lambda request: email_copy("A", "a")
    _create(api, _email_campaign(ab_test=None), committed=committed)
    queue.drain()
    api.get(URL)  # warm the per-process auth caches

    with django_assert_num_queries(3):  # count, page, variants
        assert api.get(URL).json()["count"] == 1
    for _ in range(4):
        _create(api, _email_campaign(), committed=committed)
    queue.drain()
    with django_assert_num_queries(3):
        assert api.get(URL).json()["count"] == 5


def test_send_due_campaigns_command_sends_what_is_due_and_says_so(api, audience, llm, queue, committed) -> None:
    import io

    llm.queue(email_copy("A", "a"))
    created = _create(
        api,
        _email_campaign(ab_test=None, schedule={"send_at": (timezone.now() + timedelta(seconds=5)).isoformat()}),
        committed=committed,
    )
    queue.drain()
    Campaign.objects.filter(pk=created["id"]).update(send_at=timezone.now() - timedelta(seconds=1))
    out = io.StringIO()
    call_command("send_due_campaigns", stdout=out)
    assert f"campaign {created['id']}: completed (4 sent)" in out.getvalue()
    assert "1 due, 1 sent by this run" in out.getvalue()
    out = io.StringIO()
    call_command("send_due_campaigns", stdout=out)
    assert "0 due, 0 sent by this run" in out.getvalue()
    assert len(mail.outbox) == 4
