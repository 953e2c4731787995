"""The outbox: local price/stock/status changes pushed to WooCommerce exactly once.

A service that changes a shop-linked product's price, stock or status adds an
``OutboxEntry`` in the same transaction (``outbox_add``). ``outbox_push`` then, under
row locks (``select_for_update(skip_locked=True)``: two pushers never take the same
entries):

1. coalesces the pending entries of each product (latest values win; the newest
   entry's idempotency key goes to the shop);
2. reads the products back from the shop (one GET per 100): an object already
   carrying the key received the change before (a timed-out or killed earlier
   attempt), so it is marked applied without writing again; an object the shop
   changed after our last sync is a conflict, recorded on the entry (local wins);
3. sends the rest in ``products/batch`` calls that are never resent blindly
   (``retry_sent=False``): a timeout leaves the entries pending, and step 2 of the
   next push finds out whether the write landed.
"""

from __future__ import annotations

import logging
import uuid
from collections import defaultdict
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from django.db import transaction
from django.utils import timezone

from commerce_app.models import OutboxEntry, OutboxStatus, Product, ShopConnection, SyncState
from commerce_app.sync import STATUS_TO_WC, client_for, record_shop_error, require_connection
from commerce_app.woocommerce import (
    IDEMPOTENCY_META_KEY,
    PermanentError,
    TransientError,
    WooCommerceClient,
    WooCommerceError,
    idempotency_key_of,
)
from commerce_app.woocommerce import Product as WcProduct
from devskyy.core.audit import audit_record
from devskyy.core.errors import ServiceUnavailableError

logger = logging.getLogger(__name__)

PUSHED_FIELDS = ("price", "stock", "status")
MAX_ATTEMPTS = 10


class PushFailedError(ServiceUnavailableError):
    code = "woocommerce_push_failed"


@dataclass
class PushReport:
    applied: int = 0
    already_applied: int = 0
    failed: int = 0
    pending: int = 0
    conflicts: list[dict[str, Any]] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    batch_calls: int = 0

    def as_dict(self) -> dict[str, Any]:
        return {
            "applied": self.applied,
            "already_applied": self.already_applied,
            "failed": self.failed,
            "pending": self.pending,
            "conflicts": self.conflicts,
            "errors": self.errors,
            "batch_calls": self.batch_calls,
        }


def outbox_add(
    *, product: Product, change: dict[str, Any], agent_task_id: str = "", actor_label: str = ""
) -> OutboxEntry | None:
    """Queue ``change`` (subset of price/stock/status) for the shop; call inside the writer's
    transaction. Products not linked to the shop get no entry (nothing to push)."""
    if product.woocommerce_id is None:
        return None
    values = {k: (str(v) if isinstance(v, Decimal) else v) for k, v in change.items() if k in PUSHED_FIELDS}
    if not values:
        return None
    entry = OutboxEntry.objects.create(
        product=product,
        woocommerce_id=product.woocommerce_id,
        change=values,
        idempotency_key=f"dsk-{uuid.uuid4().hex}",
        agent_task_id=agent_task_id[:64],
        actor_label=actor_label[:150],
    )
    if product.sync_state != SyncState.CONFLICT:
        Product.objects.filter(pk=product.pk).update(sync_state=SyncState.PENDING_PUSH)
        product.sync_state = SyncState.PENDING_PUSH
    return entry


def _shop_payload(product: Product, change: dict[str, Any], key: str) -> dict[str, Any]:
    payload: dict[str, Any] = {"id": product.woocommerce_id}
    if "price" in change:
        price = Decimal(str(change["price"]))
        if product.compare_at_price is not None and product.compare_at_price > price:
            payload["regular_price"] = format(product.compare_at_price, "f")
            payload["sale_price"] = format(price, "f")
        else:
            payload["regular_price"] = format(price, "f")
            payload["sale_price"] = ""
    if "stock" in change:
        payload["manage_stock"] = True
        payload["stock_quantity"] = int(change["stock"])
    if "status" in change:
        payload["status"] = STATUS_TO_WC.get(change["status"], "draft")
    payload["meta_data"] = [{"key": IDEMPOTENCY_META_KEY, "value": key}]
    return payload


def _read_back(client: WooCommerceClient, wc_ids: list[int]) -> dict[int, WcProduct]:
    found: dict[int, WcProduct] = {}
    for start in range(0, len(wc_ids), 100):
        chunk = wc_ids[start : start + 100]
        page = client.list_products(per_page=100, filters={"include": chunk, "status": "any"})
        found.update({p.id: p for p in page.items})
    return found


def outbox_push(*, limit: int = 500) -> PushReport:
    """Push pending outbox entries (see the module docstring); returns what happened."""
    connection = require_connection()
    report = PushReport()
    now = timezone.now()
    failure: PermanentError | None = None
    with transaction.atomic():
        entries = list(
            OutboxEntry.objects.select_for_update(skip_locked=True)
            .filter(status__in=[OutboxStatus.PENDING, OutboxStatus.SENDING])
            .select_related("product")
            .order_by("id")[:limit]
        )
        if not entries:
            return report
        groups: dict[int, list[OutboxEntry]] = defaultdict(list)
        for entry in entries:
            groups[entry.product_id].append(entry)
        try:
            with client_for(connection) as client:
                _push_groups(client, groups, report, now)
        except PermanentError as exc:  # credentials refused, shop gone: kept pending, said why
            failure = exc
            message = str(exc)
            for entry in entries:
                entry.last_error = message[:2000]
                entry.save(update_fields=["attempts", "last_error", "updated_at"])
            report.errors.append(message)
            report.pending += len(entries)
            record_shop_error(connection, message)
        audit_record(
            action="commerce.outbox.push",
            actor_label="system:outbox",
            target_type="shop_connection",
            target_id=connection.pk,
            details={k: v for k, v in report.as_dict().items() if k != "conflicts"},
        )
    if failure is not None:
        raise PushFailedError(f"WooCommerce push failed: {failure}", details=report.as_dict()) from failure
    return report


def _finish(entries: list[OutboxEntry], status: str, *, error: str = "", applied_at: Any = None) -> None:
    for entry in entries:
        entry.status = status
        entry.last_error = error[:2000]
        entry.applied_at = applied_at
        entry.save(update_fields=["status", "last_error", "applied_at", "conflict", "attempts", "updated_at"])


def _mark_synced(product: Product, shop: WcProduct | None, now: Any) -> None:
    still_pending = (
        OutboxEntry.objects.filter(product=product, status__in=[OutboxStatus.PENDING, OutboxStatus.SENDING])
        .exclude(applied_at__isnull=False)
        .exists()
    )
    updates: dict[str, Any] = {"last_synced_at": now, "sync_error": ""}
    if shop is not None and shop.date_modified_gmt is not None:
        updates["woocommerce_modified_at"] = shop.date_modified_gmt
    if not still_pending:
        updates["sync_state"] = SyncState.SYNCED
    Product.objects.filter(pk=product.pk).update(**updates)


def _push_groups(client: WooCommerceClient, groups: dict[int, list[OutboxEntry]], report: PushReport, now: Any) -> None:
    products = {group[0].product_id: group[0].product for group in groups.values()}
    shop = _read_back(client, sorted({p.woocommerce_id for p in products.values() if p.woocommerce_id}))
    to_send: list[tuple[list[OutboxEntry], dict[str, Any]]] = []
    for product_id, group in groups.items():
        product = products[product_id]
        key = group[-1].idempotency_key
        current = shop.get(product.woocommerce_id or 0)
        for entry in group:
            entry.attempts += 1
        if current is None:
            report.failed += len(group)
            _finish(group, OutboxStatus.FAILED, error="The product no longer exists in the shop.")
            Product.objects.filter(pk=product.pk).update(
                sync_state=SyncState.ERROR, sync_error="Deleted in the shop; local change not pushed."
            )
            continue
        if idempotency_key_of(current.meta_data) == key:
            report.already_applied += len(group)
            _finish(group, OutboxStatus.APPLIED, applied_at=now)
            _mark_synced(product, current, now)
            continue
        stored = product.woocommerce_modified_at
        if current.date_modified_gmt and stored and current.date_modified_gmt > stored:
            note = (
                f"The shop changed this product at {current.date_modified_gmt.isoformat()} after our last sync "
                f"({stored.isoformat()}); local pending values win and were pushed."
            )
            for entry in group:
                entry.conflict = note
            report.conflicts.append({"sku": product.sku, "woocommerce_id": product.woocommerce_id, "note": note})
        change: dict[str, Any] = {}
        for entry in group:
            change.update(entry.change)
        to_send.append((group, _shop_payload(product, change, key)))

    for start in range(0, len(to_send), 100):
        chunk = to_send[start : start + 100]
        try:
            result = client.batch_products(update=[payload for _, payload in chunk], retry_sent=False)
        except TransientError as exc:
            message = str(exc)
            for group, _ in chunk:
                status = OutboxStatus.SENDING if exc.outcome_unknown else OutboxStatus.PENDING
                give_up = all(e.attempts >= MAX_ATTEMPTS for e in group)
                _finish(group, OutboxStatus.FAILED if give_up else status, error=message)
                report.failed += len(group) if give_up else 0
                report.pending += 0 if give_up else len(group)
            report.errors.append(message)
            continue
        report.batch_calls += result.calls
        for (group, _), item in zip(chunk, result.updated, strict=True):
            product = group[0].product
            if item.error is not None:
                report.failed += len(group)
                message = f"{item.error.code}: {item.error.message}"
                _finish(group, OutboxStatus.FAILED, error=message)
                Product.objects.filter(pk=product.pk).update(sync_state=SyncState.ERROR, sync_error=message[:2000])
                continue
            report.applied += len(group)
            _finish(group, OutboxStatus.APPLIED, applied_at=now)
            _mark_synced(product, item.result, now)


def outbox_push_safely() -> dict[str, Any]:
    """For the task queue: push, and turn failures into a report instead of an exception."""
    try:
        return outbox_push().as_dict()
    except (WooCommerceError, ServiceUnavailableError) as exc:
        logger.warning("outbox push failed: %s", exc)
        return {"error": str(exc)}


__all__ = ["PUSHED_FIELDS", "PushFailedError", "PushReport", "ShopConnection", "outbox_add", "outbox_push"]
