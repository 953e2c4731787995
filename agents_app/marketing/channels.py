"""Channel backends: how a campaign message leaves (or does not leave) DevSkyy.

A backend is a class with ``name`` and ``send(message) -> Delivery``; settings
``MARKETING_CHANNEL_BACKENDS`` maps each channel to a dotted path. ``send`` may do
network I/O and must not write the database (the dispatcher records the outcome).

* ``DjangoEmailBackend`` (email default): a plain-text and HTML email
  (``multipart/alternative``) sent through Django's ``EMAIL_BACKEND`` (SMTP settings
  ``EMAIL_*``). ``sent`` only when the backend
  accepted the message; any exception is a ``failed`` delivery with its error.
* ``OutboxBackend`` (SMS and social default): no provider is wired, so the rendered
  message is only kept in the outbox table with status ``recorded``, which the API and
  the admin show as "recorded, not sent". Nothing pretends it reached anyone.

A paid provider backend would also write its cost to the spend ledger
(``agents_app.llm.services.ledger_record`` with the campaign's ``campaign_ref``).
"""

from __future__ import annotations

import contextlib
import logging
from dataclasses import dataclass
from functools import cache
from typing import Any, Protocol

from django.conf import settings
from django.core.mail import EmailMultiAlternatives, get_connection
from django.core.mail.message import make_msgid
from django.template.loader import render_to_string
from django.utils.module_loading import import_string

from agents_app.marketing.models import CampaignMessage, MessageStatus
from agents_app.marketing.unsubscribe import unsubscribe_url

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class Delivery:
    """What the backend did with one message."""

    status: str  # MessageStatus.SENT | RECORDED | FAILED
    provider_message_id: str = ""
    error: str = ""


class ChannelBackend(Protocol):
    """``open``/``close`` bracket one sender's run (e.g. one SMTP connection for all its
    messages); ``send`` is called once per message in between."""

    name: str

    def open(self) -> None: ...

    def send(self, message: CampaignMessage) -> Delivery: ...

    def close(self) -> None: ...


class DjangoEmailBackend:
    """Email through Django's mail framework (settings.EMAIL_BACKEND)."""

    name = "django_email"

    def __init__(self) -> None:
        self.connection: Any = None

    def open(self) -> None:
        """One connection for the run (SMTP: one TCP/TLS session and login, not one per message)."""
        self.connection = get_connection(fail_silently=False)

    def close(self) -> None:
        if self.connection is not None:
            with contextlib.suppress(Exception):
                self.connection.close()
            self.connection = None

    def send(self, message: CampaignMessage) -> Delivery:
        # Every campaign email carries a way out: a footer link and the List-Unsubscribe
        # headers (RFC 2369/8058). Without a public URL to put there, nothing is sent.
        link = unsubscribe_url(message.customer_id) if message.customer_id is not None else ""
        if not link:
            return Delivery(
                MessageStatus.FAILED,
                error="MARKETING_PUBLIC_URL is not set: campaign emails need an unsubscribe link",
            )
        # Our own Message-ID, so the id recorded is the one the receiving side sees.
        message_id = make_msgid(domain=settings.MARKETING_MESSAGE_ID_DOMAIN)
        # Plain text, and the same words as HTML (templates/marketing/email.html: escaped,
        # paragraphs and links kept, the unsubscribe link in the footer).
        email = EmailMultiAlternatives(
            subject=message.subject,
            body=f"{message.body}\n\n--\nYou receive this because you accept marketing emails. Unsubscribe: {link}\n",
            from_email=settings.MARKETING_FROM_EMAIL,
            to=[message.recipient],
            headers={
                "Message-ID": message_id,
                "X-DevSkyy-Campaign": str(message.campaign_id),
                "X-DevSkyy-Message": str(message.pk),
                "List-Unsubscribe": f"<{link}>",
                "List-Unsubscribe-Post": "List-Unsubscribe=One-Click",
            },
            connection=self.connection,
        )
        html = render_to_string(
            "marketing/email.html", {"subject": message.subject, "body": message.body, "unsubscribe_url": link}
        )
        email.attach_alternative(html, "text/html")
        try:
            accepted = email.send(fail_silently=False)
        except Exception as exc:  # noqa: BLE001 - SMTP and backend errors of every kind are a failed delivery
            logger.warning("campaign email %s failed: %s", message.pk, type(exc).__name__)
            # The session may be broken (server hung up): the next message starts a new one.
            if self.connection is not None:
                self.close()
                self.open()
            return Delivery(MessageStatus.FAILED, error=f"{type(exc).__name__}: {exc}"[:2000])
        if accepted != 1:
            return Delivery(MessageStatus.FAILED, error="the email backend accepted no message")
        return Delivery(MessageStatus.SENT, provider_message_id=message_id)


class OutboxBackend:
    """Keep the rendered message in the outbox only: status ``recorded``, not sent."""

    name = "outbox"

    def open(self) -> None:
        return None

    def send(self, message: CampaignMessage) -> Delivery:
        return Delivery(MessageStatus.RECORDED)

    def close(self) -> None:
        return None


@cache
def _backend_class(path: str) -> type[ChannelBackend]:
    backend: type[ChannelBackend] = import_string(path)
    return backend


def backend_for(channel: str) -> ChannelBackend:
    return _backend_class(settings.MARKETING_CHANNEL_BACKENDS[channel])()
