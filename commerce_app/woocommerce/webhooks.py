"""Checks for inbound WooCommerce webhook deliveries (the endpoint comes with the models).

WooCommerce signs each delivery with ``X-WC-Webhook-Signature``: the base64 HMAC-SHA256
of the raw request body, keyed with the webhook's secret. Verify it over the exact
bytes received, before parsing anything.

When a webhook is created (or re-activated) WooCommerce first sends an unsigned ping:
a form-encoded body ``webhook_id=<n>`` with no topic headers. The endpoint should
answer it 200 and do nothing else: WooCommerce refuses to save a webhook whose
delivery URL does not accept the ping.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import re
from collections.abc import Mapping
from dataclasses import dataclass

SIGNATURE_HEADER = "X-WC-Webhook-Signature"
TOPIC_HEADER = "X-WC-Webhook-Topic"
RESOURCE_HEADER = "X-WC-Webhook-Resource"
EVENT_HEADER = "X-WC-Webhook-Event"
DELIVERY_ID_HEADER = "X-WC-Webhook-Delivery-ID"
WEBHOOK_ID_HEADER = "X-WC-Webhook-ID"
SOURCE_HEADER = "X-WC-Webhook-Source"

_PING_BODY = re.compile(rb"webhook_id=(\d{1,20})")


def compute_signature(raw_body: bytes, secret: str) -> str:
    digest = hmac.new(secret.encode(), raw_body, hashlib.sha256).digest()
    return base64.b64encode(digest).decode("ascii")


def verify_signature(raw_body: bytes, signature_header: str | None, secret: str) -> bool:
    """True only when ``signature_header`` is the body's signature under ``secret``.

    An empty secret verifies nothing (a misconfigured endpoint must not accept
    everything). The comparison takes the same time wherever the strings differ.
    """
    if not secret or not signature_header:
        return False
    expected = compute_signature(raw_body, secret).encode("ascii")
    return hmac.compare_digest(expected, signature_header.strip().encode("utf-8", "replace"))


def _header(headers: Mapping[str, str], name: str) -> str | None:
    wanted = name.lower()
    for key, value in headers.items():
        if key.lower() == wanted:
            stripped = value.strip()
            return stripped or None
    return None


def _int_or_none(value: str | None) -> int | None:
    return int(value) if value is not None and value.isdigit() else None


@dataclass(frozen=True, slots=True)
class WebhookHeaders:
    """What WooCommerce says about a delivery (``topic`` is ``<resource>.<event>``)."""

    topic: str | None
    resource: str | None
    event: str | None
    delivery_id: str | None
    webhook_id: int | None
    source: str | None
    signature: str | None


def read_headers(headers: Mapping[str, str]) -> WebhookHeaders:
    """Read the ``X-WC-Webhook-*`` headers from any mapping (``request.headers`` works)."""
    topic = _header(headers, TOPIC_HEADER)
    resource = _header(headers, RESOURCE_HEADER)
    event = _header(headers, EVENT_HEADER)
    if topic and "." in topic and (resource is None or event is None):
        topic_resource, _, topic_event = topic.partition(".")
        resource = resource or topic_resource
        event = event or topic_event
    return WebhookHeaders(
        topic=topic,
        resource=resource,
        event=event,
        delivery_id=_header(headers, DELIVERY_ID_HEADER),
        webhook_id=_int_or_none(_header(headers, WEBHOOK_ID_HEADER)),
        source=_header(headers, SOURCE_HEADER),
        signature=_header(headers, SIGNATURE_HEADER),
    )


def ping_webhook_id(raw_body: bytes, content_type: str | None = None) -> int | None:
    """The webhook id if the body is WooCommerce's creation ping (``webhook_id=<n>``), else None."""
    if content_type is not None:
        media_type = content_type.split(";", 1)[0].strip().lower()
        if media_type not in {"", "application/x-www-form-urlencoded"}:
            return None
    match = _PING_BODY.fullmatch(raw_body.strip())
    return int(match.group(1)) if match else None


def is_ping(raw_body: bytes, content_type: str | None = None) -> bool:
    return ping_webhook_id(raw_body, content_type) is not None
