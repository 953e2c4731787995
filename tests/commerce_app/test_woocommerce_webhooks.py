"""Inbound webhook checks: signatures over the raw body, delivery headers, the creation ping."""

from __future__ import annotations

import base64
import hashlib
import hmac
from pathlib import Path

import httpx
import pytest
from django.http import HttpRequest

from commerce_app.woocommerce.webhooks import (
    compute_signature,
    is_ping,
    ping_webhook_id,
    read_headers,
    verify_signature,
)

SECRET = "whsec-devskyy-test"
BODY = (Path(__file__).resolve().parents[1] / "data" / "woocommerce" / "order.json").read_bytes()


def woo_signature(body: bytes, secret: str) -> str:
    """What WooCommerce sends: base64_encode(hash_hmac('sha256', $payload, $secret, true))."""
    return base64.b64encode(hmac.new(secret.encode(), body, hashlib.sha256).digest()).decode()


def test_a_delivery_signed_with_the_secret_is_verified():
    signature = woo_signature(BODY, SECRET)
    assert verify_signature(BODY, signature, SECRET)
    assert compute_signature(BODY, SECRET) == signature


def test_a_tampered_body_is_refused():
    signature = woo_signature(BODY, SECRET)
    tampered = BODY.replace(b'"total": "40.25"', b'"total": "0.25"')
    assert tampered != BODY
    assert not verify_signature(tampered, signature, SECRET)
    assert not verify_signature(BODY + b"\n", signature, SECRET)  # the exact bytes matter


def test_a_signature_made_with_another_secret_is_refused():
    assert not verify_signature(BODY, woo_signature(BODY, "someone-elses-secret"), SECRET)


@pytest.mark.parametrize("header", [None, "", "   ", "not-base64-at-all", "é" * 44])
def test_a_missing_or_garbled_signature_header_is_refused(header):
    assert not verify_signature(BODY, header, SECRET)


def test_an_empty_secret_verifies_nothing():
    assert not verify_signature(BODY, woo_signature(BODY, ""), "")


def test_delivery_headers_are_read_whatever_their_case():
    request = httpx.Request(
        "POST",
        "http://127.0.0.1/webhooks",
        headers={
            "x-wc-webhook-topic": "order.updated",
            "X-WC-Webhook-Resource": "order",
            "X-WC-Webhook-Event": "updated",
            "X-WC-Webhook-Delivery-ID": "0c9e5a1f7a3e4b1e",
            "X-WC-Webhook-ID": "17",
            "X-WC-Webhook-Source": "https://shop.example.com/",
            "X-WC-Webhook-Signature": woo_signature(BODY, SECRET),
        },
    )
    headers = read_headers(request.headers)
    assert (headers.topic, headers.resource, headers.event) == ("order.updated", "order", "updated")
    assert headers.delivery_id == "0c9e5a1f7a3e4b1e"
    assert headers.webhook_id == 17
    assert headers.source == "https://shop.example.com/"
    assert verify_signature(BODY, headers.signature, SECRET)


def test_django_request_headers_work_and_resource_and_event_come_from_the_topic():
    request = HttpRequest()
    request.META = {"HTTP_X_WC_WEBHOOK_TOPIC": "product.deleted", "HTTP_X_WC_WEBHOOK_ID": "abc"}
    headers = read_headers(request.headers)
    assert (headers.resource, headers.event) == ("product", "deleted")
    assert headers.webhook_id is None  # not a number
    assert headers.delivery_id is None
    assert headers.signature is None


def test_the_creation_ping_is_recognised():
    assert ping_webhook_id(b"webhook_id=42", "application/x-www-form-urlencoded") == 42
    assert is_ping(b"webhook_id=42")
    assert is_ping(b"webhook_id=7", "application/x-www-form-urlencoded; charset=UTF-8")


@pytest.mark.parametrize(
    ("body", "content_type"),
    [
        (b'{"webhook_id": 42}', "application/json"),
        (b"webhook_id=42", "application/json"),
        (b"webhook_id=42&status=active", None),
        (b"webhook_id=", None),
        (BODY, "application/json"),
    ],
)
def test_other_bodies_are_not_pings(body, content_type):
    assert not is_ping(body, content_type)
