"""Verified WooCommerce webhook deliveries: stored raw, applied once, in version order.

The view verifies the signature first (nothing is parsed or written before); then
``webhook_receive`` stores the delivery (unique ``delivery_id``: a repeated delivery
is counted on the first row and changes nothing) and dispatches by topic:

* ``product.*``, ``order.*``, ``customer.*`` created/updated/restored: the object is
  upserted with the sync's rules, so a version older than the stored one is ignored
  (``stale``) and the same version twice writes once (``unchanged``);
* ``*.deleted``: products are archived, orders cancelled, customers unlinked (history kept);
* anything else (``action.*``, coupons, ...): stored as ``ignored``, answered 200.

Webhook deliveries never move the sync cursors: the periodic incremental sync still
reads everything after its cursor, which is what backfills a disabled webhook's gap.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from django.db import IntegrityError, transaction
from django.db.models import F
from django.utils import timezone

from commerce_app.models import (
    Customer,
    DeliveryStatus,
    Order,
    OrderStatus,
    Product,
    ProductStatus,
    SyncState,
    WebhookDelivery,
)
from commerce_app.sync import _product_row, upsert_customers, upsert_orders, upsert_products
from commerce_app.woocommerce.errors import MalformedResponseError
from commerce_app.woocommerce.payloads import parse_customer, parse_gmt, parse_order, parse_product
from commerce_app.woocommerce.webhooks import WebhookHeaders
from devskyy.core import catalog_changes


@dataclass(frozen=True)
class IntakeResult:
    delivery_id: str
    status: str
    duplicate: bool
    detail: str = ""


def _delivery_id(headers: WebhookHeaders, raw_body: bytes) -> str:
    if headers.delivery_id:
        return headers.delivery_id[:128]
    # WooCommerce always sends one; without it, the same topic and bytes are the same delivery.
    return "sha256:" + hashlib.sha256((headers.topic or "").encode() + b"\n" + raw_body).hexdigest()


def webhook_receive(*, headers: WebhookHeaders, header_map: dict[str, str], raw_body: bytes) -> IntakeResult:
    """Store and apply one verified delivery (see the module docstring)."""
    delivery_id = _delivery_id(headers, raw_body)
    topic = (headers.topic or "")[:64]
    with transaction.atomic():
        try:
            with transaction.atomic():
                delivery = WebhookDelivery.objects.create(
                    delivery_id=delivery_id,
                    webhook_id=headers.webhook_id,
                    topic=topic,
                    headers=header_map,
                    raw_body=raw_body.decode("utf-8", "replace"),
                    status=DeliveryStatus.IGNORED,
                )
        except IntegrityError:
            WebhookDelivery.objects.filter(delivery_id=delivery_id).update(duplicates=F("duplicates") + 1)
            first = WebhookDelivery.objects.get(delivery_id=delivery_id)
            return IntakeResult(delivery_id, first.status, duplicate=True, detail="already received")
        status, detail, object_id, changed = _dispatch(topic, raw_body)
        delivery.status, delivery.detail, delivery.object_woocommerce_id = status, detail, object_id
        delivery.save(update_fields=["status", "detail", "object_woocommerce_id"])
        if changed:
            transaction.on_commit(lambda: catalog_changes.products_changed(changed))
    return IntakeResult(delivery_id, status, duplicate=False, detail=detail)


def _dispatch(topic: str, raw_body: bytes) -> tuple[str, str, int | None, list[int]]:
    resource, _, event = topic.partition(".")
    if resource not in {"product", "order", "customer"} or event not in {"created", "updated", "deleted", "restored"}:
        return DeliveryStatus.IGNORED, f"topic {topic or '(none)'} is not handled", None, []
    try:
        data: Any = json.loads(raw_body, parse_float=Decimal)
    except (ValueError, RecursionError):  # RecursionError: nested too deeply to decode
        return DeliveryStatus.FAILED, "body is not JSON", None, []
    if not isinstance(data, dict) or not isinstance(data.get("id"), int):
        return DeliveryStatus.FAILED, "body has no object id", None, []
    object_id: int = data["id"]
    now = timezone.now()
    try:
        if event == "deleted":
            return (*_delete(resource, object_id, data), object_id, [])
        if resource == "product":
            # Variations are not in a product's payload: the next sync imports them.
            product = parse_product(data)
            conflicts: list[dict[str, Any]] = []
            report = upsert_products([_product_row(product)], now=now, conflicts=conflicts)
            changed = report.changed_ids
        elif resource == "order":
            report = upsert_orders([parse_order(data)], now=now)
            changed = []
        else:
            report = upsert_customers([parse_customer(data)], now=now)
            changed = []
    except MalformedResponseError as exc:
        return DeliveryStatus.FAILED, str(exc), object_id, []
    if report.stale:
        return DeliveryStatus.STALE, "older than the stored version", object_id, []
    if report.unchanged:
        return DeliveryStatus.UNCHANGED, "same version as stored", object_id, []
    if report.errors:
        return DeliveryStatus.FAILED, "could not be matched to a local row", object_id, []
    detail = "conflict with a pending local change" if report.conflicts else ""
    return DeliveryStatus.APPLIED, detail, object_id, changed


def _delete(resource: str, object_id: int, data: dict[str, Any]) -> tuple[str, str]:
    now = timezone.now()
    modified = None
    if isinstance(data.get("date_modified_gmt"), str):
        modified = parse_gmt(data["date_modified_gmt"])
    if resource == "product":
        updated = Product.objects.filter(woocommerce_id=object_id).update(
            status=ProductStatus.ARCHIVED,
            sync_state=SyncState.SYNCED,
            last_synced_at=now,
            woocommerce_modified_at=modified or now,
            updated_at=now,
        )
    elif resource == "order":
        updated = Order.objects.filter(woocommerce_id=object_id).update(
            status=OrderStatus.CANCELLED, last_synced_at=now, updated_at=now
        )
    else:
        updated = Customer.objects.filter(woocommerce_id=object_id).update(
            woocommerce_id=None, last_synced_at=now, updated_at=now
        )
    if not updated:
        return DeliveryStatus.UNCHANGED, "no local object to delete"
    return DeliveryStatus.APPLIED, "deleted in the shop"
