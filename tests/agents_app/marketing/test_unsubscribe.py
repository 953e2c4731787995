"""Every campaign email carries a working unsubscribe link; one click ends marketing to that customer."""

# mypy: disable-error-code="no-untyped-def, index, union-attr"
from __future__ import annotations

import re

import pytest
from django.core import mail, signing
from django.test import Client

from agents_app.marketing.models import CampaignMessage, MessageStatus
from agents_app.marketing.services import campaigns_dispatch_due
from agents_app.marketing.unsubscribe import unsubscribe_token
from commerce_app.models import Customer
from devskyy.core.models import AuditLog
from tests.agents_app.marketing.conftest import email_copy

pytestmark = pytest.mark.django_db

URL = "/api/v1/marketing/campaigns"
CAMPAIGN = {
    "name": "Restock",
    "campaign_type": "email",
    "target_audience": {},
    "content_template": "Tell {first_name} the hoodie is back.",
}


def _send_campaign(api, llm, queue, committed) -> None:
    llm.queue(email_copy("Back in stock", "Hi {first_name}, it is back."))
    with committed():
        assert api.post(URL, CAMPAIGN, format="json").status_code == 202
    queue.drain()
    with committed():
        campaigns_dispatch_due()
    queue.drain()


def test_the_link_in_a_campaign_email_unsubscribes_after_one_confirming_click(api, shop, llm, queue, committed) -> None:
    ana = shop.customer("ana@example.com", first_name="Ana")
    shop.customer("ben@example.com", first_name="Ben")
    _send_campaign(api, llm, queue, committed)

    email = next(m for m in mail.outbox if m.to == ["ana@example.com"])
    link = re.search(r"Unsubscribe: (\S+)", str(email.body)).group(1)
    assert email.extra_headers["List-Unsubscribe"] == f"<{link}>"
    assert email.extra_headers["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    path = link.split("127.0.0.1:8000", 1)[1]
    browser = Client(enforce_csrf_checks=True)

    page = browser.get(path)  # a link scanner's fetch changes nothing
    assert page.status_code == 200
    assert b'id="unsubscribe"' in page.content
    assert Customer.objects.get(pk=ana.pk).accepts_marketing is True

    done = browser.post(path)  # the button, or a mail client's RFC 8058 one-click POST
    assert done.status_code == 200
    assert b"You are unsubscribed" in done.content
    assert Customer.objects.get(pk=ana.pk).accepts_marketing is False
    audit = AuditLog.objects.get(action="commerce.customer.marketing_opt_out")
    assert audit.target_id == str(ana.pk)
    assert browser.post(path).status_code == 200  # a second click is harmless
    assert AuditLog.objects.filter(action="commerce.customer.marketing_opt_out").count() == 1

    mail.outbox.clear()
    _send_campaign(api, llm, queue, committed)
    assert [m.to for m in mail.outbox] == [["ben@example.com"]]


def test_a_tampered_or_foreign_token_is_refused_and_changes_nothing(shop) -> None:
    ana = shop.customer("ana@example.com", first_name="Ana")
    token = unsubscribe_token(ana.pk)
    browser = Client()
    # Another customer's id in the payload, under Ana's signature (not a text replace of
    # the id's digits, which may not occur in the encoded token at all).
    foreign = signing.b64_encode(str(ana.pk + 1).encode()).decode() + token[token.index(":") :]
    for bad in (token[:-2] + "xx", "not-a-token", foreign):
        response = browser.post(f"/marketing/unsubscribe/{bad}")
        assert response.status_code == 400, bad
        assert b"not valid" in response.content
    assert Customer.objects.get(pk=ana.pk).accepts_marketing is True
    assert not AuditLog.objects.filter(action="commerce.customer.marketing_opt_out").exists()


def test_without_a_public_url_campaign_emails_are_not_sent_and_say_why(
    api, shop, llm, queue, committed, settings
) -> None:
    settings.MARKETING_PUBLIC_URL = ""
    shop.customer("ana@example.com", first_name="Ana")
    _send_campaign(api, llm, queue, committed)
    assert mail.outbox == []
    message = CampaignMessage.objects.get()
    assert message.status == MessageStatus.FAILED
    assert "MARKETING_PUBLIC_URL" in message.error
