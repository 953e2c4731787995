"""The WooCommerce webhook endpoint: signature first, stored raw, applied once, in version order."""

from __future__ import annotations

import copy
import json
from decimal import Decimal

import pytest
from django.test import Client

from commerce_app.models import DeliveryStatus, Order, Product, WebhookDelivery
from devskyy.core.models import AuditLog
from tests.commerce_app.test_woocommerce_webhooks import woo_signature
from tests.support.auth import security_events
from tests.support.woocommerce_server import load_template

URL = "/api/v1/commerce/webhooks/woocommerce"
SECRET = "whsec-endpoint-test"
pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _secret(settings):
    settings.WOOCOMMERCE_WEBHOOK_SECRET = SECRET


def product_body(**fields) -> bytes:
    body = copy.deepcopy(load_template("product.json"))
    body.update(fields)
    return json.dumps(body).encode()


def deliver(body: bytes, topic: str = "product.updated", delivery: str = "d-1", *, secret: str = SECRET, **extra):
    headers = {
        "HTTP_X_WC_WEBHOOK_TOPIC": topic,
        "HTTP_X_WC_WEBHOOK_DELIVERY_ID": delivery,
        "HTTP_X_WC_WEBHOOK_ID": "12",
        "HTTP_X_WC_WEBHOOK_SIGNATURE": woo_signature(body, secret),
        **extra,
    }
    return Client().post(URL, data=body, content_type="application/json", **headers)


def test_a_signed_product_delivery_is_applied_once_even_when_delivered_twice():
    body = product_body(id=794, regular_price="99.90", sale_price="", price="99.90")

    first = deliver(body, delivery="d-1")
    again = deliver(body, delivery="d-1")
    resent = deliver(body, delivery="d-2")  # WooCommerce's retry carries a new delivery id

    assert first.status_code == 200
    assert first.json()["status"] == "applied"
    assert again.json() == {"status": "applied", "delivery_id": "d-1", "duplicate": True}
    assert resent.json()["status"] == "unchanged"
    product = Product.objects.get(woocommerce_id=794)
    assert (product.sku, product.price, product.stock) == ("SKY-HOOD-001", Decimal("99.90"), 42)
    stored = WebhookDelivery.objects.get(delivery_id="d-1")
    assert stored.duplicates == 1
    assert stored.raw_body == body.decode()
    assert stored.headers["X-Wc-Webhook-Topic"] == "product.updated"
    assert WebhookDelivery.objects.count() == 2


def test_a_bad_signature_is_refused_with_401_and_nothing_is_written():
    before = security_events("bad_webhook_signature")
    body = product_body(id=795)

    response = deliver(body, secret="not-the-secret")

    assert response.status_code == 401
    assert response.json()["error"]["code"] == "bad_webhook_signature"
    assert Product.objects.count() == 0
    assert WebhookDelivery.objects.count() == 0
    assert security_events("bad_webhook_signature") == before + 1
    assert AuditLog.objects.filter(action="webhook.signature.invalid").count() == 1


def test_an_unsigned_delivery_is_refused():
    body = product_body(id=796)
    response = Client().post(URL, data=body, content_type="application/json", HTTP_X_WC_WEBHOOK_TOPIC="product.updated")
    assert response.status_code == 401
    assert Product.objects.count() == 0


def test_an_unknown_topic_is_answered_200_and_recorded_as_ignored():
    body = json.dumps({"id": 5, "code": "SUMMER"}).encode()
    response = deliver(body, topic="coupon.created", delivery="c-1")
    assert response.status_code == 200
    assert response.json()["status"] == "ignored"
    assert WebhookDelivery.objects.get().status == DeliveryStatus.IGNORED


def test_a_late_delivery_older_than_the_stored_version_is_ignored():
    newer = product_body(id=797, name="New name", date_modified_gmt="2024-05-02T10:00:00", sku="SKY-797")
    older = product_body(id=797, name="Old name", date_modified_gmt="2024-05-01T10:00:00", sku="SKY-797")
    assert deliver(newer, delivery="n").json()["status"] == "applied"

    late = deliver(older, delivery="o")

    assert late.json()["status"] == "stale"
    assert Product.objects.get(woocommerce_id=797).name == "New name"


def test_woocommerces_ping_is_answered():
    response = Client().post(URL, data=b"webhook_id=12", content_type="application/x-www-form-urlencoded")
    assert response.status_code == 200
    assert response.json()["status"] == "pong"
    assert WebhookDelivery.objects.count() == 0


def test_order_and_delete_topics_are_dispatched():
    order = copy.deepcopy(load_template("order.json"))
    body = json.dumps(order).encode()
    assert deliver(body, topic="order.created", delivery="o-1").json()["status"] == "applied"
    assert Order.objects.get(woocommerce_id=order["id"]).total == Decimal(order["total"])
    deliver(product_body(id=900, sku="SKY-900"), delivery="p-900")

    gone = deliver(json.dumps({"id": 900}).encode(), topic="product.deleted", delivery="p-900-del")

    assert gone.json()["status"] == "applied"
    assert Product.objects.get(woocommerce_id=900).status == "archived"


def test_signed_deliveries_are_never_rate_limited_but_unsigned_ones_are(settings):
    settings.RATE_LIMIT_PER_MINUTE = 2
    for n in range(6):
        assert deliver(product_body(id=1000 + n, sku=f"SKY-R{n}"), delivery=f"r-{n}").status_code == 200
    codes = [Client().post(URL, data=b"{}", content_type="application/json").status_code for _ in range(4)]
    assert codes == [401, 401, 429, 429]
