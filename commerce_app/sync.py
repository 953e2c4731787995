"""Import from WooCommerce: idempotent batched upserts of products, customers and orders.

Conflict rule (also in the README):

* Versions are the shop's ``date_modified_gmt``, stored per object in
  ``woocommerce_modified_at``. An incoming version older than the stored one is
  ignored (a late webhook, an overlapping page); an equal one is "unchanged" and
  writes nothing, so re-importing is a no-op.
* Otherwise the shop wins (last writer wins), except for price, stock and status of a
  product with local changes still waiting in the outbox (``pending_push``/``conflict``):
  local pending changes win until they are pushed. When the shop's version is newer
  than the one our pending change was based on, both sides changed: the product is
  marked ``conflict``, ``sync_error`` says so and the sync report lists it.
* ``cost`` and ``collection`` are DevSkyy's data: kept unless the shop's meta data
  carries ``devskyy_cost`` / ``collection``.

Every write goes through ``bulk_create(update_conflicts=True)`` in chunks, on ``sku``
for products, ``email`` for customers and ``woocommerce_id`` for orders.
"""

from __future__ import annotations

import logging
import time
import uuid
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import asdict, dataclass, field
from datetime import datetime, timedelta
from decimal import ROUND_HALF_UP, Decimal
from typing import Any, TypeVar

from django.conf import settings
from django.db import IntegrityError, transaction
from django.db.models import Q
from django.utils import timezone

from commerce_app.models import (
    Customer,
    Order,
    OrderItem,
    OrderStatus,
    Product,
    ProductStatus,
    ShopConnection,
    SyncState,
)
from commerce_app.woocommerce import (
    AuthenticationError,
    RetryPolicy,
    Timeouts,
    WooCommerceClient,
    WooCommerceError,
)
from commerce_app.woocommerce import Customer as WcCustomer
from commerce_app.woocommerce import Order as WcOrder
from commerce_app.woocommerce import Product as WcProduct
from commerce_app.woocommerce import Variation as WcVariation
from devskyy.core import catalog_changes
from devskyy.core.audit import audit_record
from devskyy.core.errors import ConflictError, DomainError, ServiceUnavailableError
from devskyy.core.events import publish

logger = logging.getLogger(__name__)

CENT = Decimal("0.01")
CHUNK = 500
# modified_after is exclusive and has one-second resolution: ask again for the last second.
CURSOR_OVERLAP = timedelta(seconds=1)
ENTITIES = ("products", "customers", "orders")
WEBHOOK_TOPICS = frozenset(
    {f"{r}.{e}" for r in ("product", "order", "customer") for e in ("created", "updated", "deleted", "restored")}
)

_STATUS_FROM_WC = {
    "publish": ProductStatus.ACTIVE,
    "draft": ProductStatus.DRAFT,
    "pending": ProductStatus.DRAFT,
    "future": ProductStatus.DRAFT,
    "private": ProductStatus.ARCHIVED,
    "trash": ProductStatus.ARCHIVED,
}
STATUS_TO_WC = {ProductStatus.ACTIVE: "publish", ProductStatus.DRAFT: "draft", ProductStatus.ARCHIVED: "private"}
_ORDER_STATUS_FROM_WC = {
    "pending": OrderStatus.PENDING,
    "on-hold": OrderStatus.PENDING,
    "checkout-draft": OrderStatus.PENDING,
    "processing": OrderStatus.PROCESSING,
    "completed": OrderStatus.COMPLETED,
    "cancelled": OrderStatus.CANCELLED,
    "trash": OrderStatus.CANCELLED,
    "refunded": OrderStatus.REFUNDED,
    "failed": OrderStatus.FAILED,
}
_LOCAL_WINS = (SyncState.PENDING_PUSH, SyncState.CONFLICT)
T = TypeVar("T")


class SyncFailedError(ServiceUnavailableError):
    code = "woocommerce_sync_failed"


class ShopNotConfiguredError(ServiceUnavailableError):
    code = "woocommerce_not_configured"


@dataclass
class EntityReport:
    fetched: int = 0
    created: int = 0
    updated: int = 0
    unchanged: int = 0
    stale: int = 0
    conflicts: int = 0
    errors: int = 0
    changed_ids: list[int] = field(default_factory=list, repr=False)
    newest: datetime | None = None

    def merge(self, other: EntityReport) -> None:
        for name in ("fetched", "created", "updated", "unchanged", "stale", "conflicts", "errors"):
            setattr(self, name, getattr(self, name) + getattr(other, name))
        self.changed_ids.extend(other.changed_ids)
        if other.newest and (self.newest is None or other.newest > self.newest):
            self.newest = other.newest

    def as_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data.pop("changed_ids")
        data["newest"] = self.newest.isoformat() if self.newest else None
        return data


@dataclass
class SyncReport:
    run_id: str
    mode: str
    since: datetime | None
    entities: dict[str, EntityReport] = field(default_factory=dict)
    conflicts: list[dict[str, Any]] = field(default_factory=list)
    disabled_webhooks: list[dict[str, Any]] = field(default_factory=list)
    seconds: float = 0.0

    def as_dict(self) -> dict[str, Any]:
        return {
            "run_id": self.run_id,
            "mode": self.mode,
            "since": self.since.isoformat() if self.since else None,
            "entities": {name: report.as_dict() for name, report in self.entities.items()},
            "conflicts": self.conflicts[:100],
            "disabled_webhooks": self.disabled_webhooks,
            "seconds": round(self.seconds, 3),
        }


# --- the shop connection ---------------------------------------------------------------


def shop_connection_get() -> ShopConnection | None:
    """The shop connection, created from WORDPRESS_URL/WOOCOMMERCE_* the first time if set."""
    connection = ShopConnection.objects.filter(name="default").first()
    if connection is not None:
        return connection
    if not (settings.WORDPRESS_URL and settings.WOOCOMMERCE_KEY and settings.WOOCOMMERCE_SECRET):
        return None
    try:
        with transaction.atomic():
            connection, created = ShopConnection.objects.get_or_create(
                name="default",
                defaults={
                    "store_url": settings.WORDPRESS_URL,
                    "consumer_key": settings.WOOCOMMERCE_KEY,
                    "consumer_secret": settings.WOOCOMMERCE_SECRET,
                    "webhook_secret": settings.WOOCOMMERCE_WEBHOOK_SECRET,
                },
            )
            if created:
                audit_record(
                    action="commerce.shop_connection.seeded",
                    actor_label="system:env",
                    target_type="shop_connection",
                    target_id=connection.pk,
                    details={"store_url": connection.store_url},
                )
    except IntegrityError:  # seeded concurrently by another process
        connection = ShopConnection.objects.get(name="default")
    return connection


def require_connection() -> ShopConnection:
    connection = shop_connection_get()
    if connection is None:
        raise ShopNotConfiguredError(
            "No WooCommerce shop is connected: set WORDPRESS_URL, WOOCOMMERCE_KEY and WOOCOMMERCE_SECRET, "
            "or add the shop connection in the admin."
        )
    if not connection.enabled:
        raise ShopNotConfiguredError("The WooCommerce shop connection is disabled in the admin.")
    return connection


def client_for(connection: ShopConnection) -> WooCommerceClient:
    return WooCommerceClient(
        connection.store_url,
        connection.consumer_key,
        connection.consumer_secret,
        timeouts=Timeouts(connect=settings.WOOCOMMERCE_CONNECT_TIMEOUT, read=settings.WOOCOMMERCE_READ_TIMEOUT),
        retry=RetryPolicy(
            max_attempts=settings.WOOCOMMERCE_MAX_ATTEMPTS, max_total_wait=settings.WOOCOMMERCE_MAX_RETRY_WAIT
        ),
        allow_insecure_http=settings.WOOCOMMERCE_ALLOW_INSECURE_HTTP,
    )


def record_shop_error(connection: ShopConnection, message: str) -> None:
    ShopConnection.objects.filter(pk=connection.pk).update(last_error=message[:2000], last_error_at=timezone.now())


# --- mapping shop objects to rows ------------------------------------------------------


def _money(value: Decimal | None) -> Decimal:
    return (value if value is not None else Decimal("0")).quantize(CENT, rounding=ROUND_HALF_UP)


def _meta_str(meta_value: object) -> str | None:
    return meta_value.strip() if isinstance(meta_value, str) and meta_value.strip() else None


def _product_row(item: WcProduct | WcVariation, *, parent: WcProduct | None = None) -> Product:
    price = item.price if item.price is not None else item.regular_price
    price = _money(price)
    compare = None
    if item.sale_price is not None and item.regular_price is not None and _money(item.regular_price) > price:
        compare = _money(item.regular_price)
    if isinstance(item, WcVariation):
        assert parent is not None  # noqa: S101 - variations are always imported with their parent
        name = (parent.name + " - " + ", ".join(a.option for a in item.attributes))[:200]
        description = parent.description
        categories = parent.categories
        images = [i.src for i in parent.images]
        attributes = {a.name: a.option for a in item.attributes}
        sku = item.sku or f"WC-{item.id}"
    else:
        name, description, categories = item.name[:200], item.description, item.categories
        images = [i.src for i in item.images]
        attributes = {}
        sku = item.sku or f"WC-{item.id}"
    cost = _meta_str(item.meta("devskyy_cost"))
    row = Product(
        sku=sku[:64],
        name=name or sku,
        description=description,
        price=price,
        compare_at_price=compare,
        stock=max(0, item.stock_quantity or 0),
        category=(categories[-1].slug if categories else "uncategorized")[:64],
        collection=(_meta_str(item.meta("collection")) or "")[:64],
        status=_STATUS_FROM_WC.get(item.status, ProductStatus.DRAFT),
        images=images,
        woocommerce_id=item.id,
        attributes=attributes,
        woocommerce_modified_at=item.date_modified_gmt,
        sync_state=SyncState.SYNCED,
    )
    row._shop_cost = Decimal(cost) if cost is not None and _is_decimal(cost) else None  # type: ignore[attr-defined]
    row._shop_collection = bool(row.collection)  # type: ignore[attr-defined]
    return row


def _is_decimal(text: str) -> bool:
    try:
        return Decimal(text).is_finite() and Decimal(text) >= 0
    except ArithmeticError:
        return False


_PRODUCT_UPDATE_FIELDS = [
    "name",
    "description",
    "price",
    "cost",
    "compare_at_price",
    "stock",
    "category",
    "collection",
    "status",
    "images",
    "woocommerce_id",
    "parent",
    "attributes",
    "sync_state",
    "woocommerce_modified_at",
    "last_synced_at",
    "sync_error",
    "updated_at",
]


def upsert_products(rows: Sequence[Product], *, now: datetime, conflicts: list[dict[str, Any]]) -> EntityReport:
    """Upsert product rows built by ``_product_row`` (parents before their variations)."""
    report = EntityReport(fetched=len(rows))
    latest: dict[str, Product] = {}
    for row in rows:  # one row per SKU: the newest version
        if row.woocommerce_modified_at is not None and (
            report.newest is None or row.woocommerce_modified_at > report.newest
        ):
            report.newest = row.woocommerce_modified_at
        seen = latest.get(row.sku)
        if seen is None or (row.woocommerce_modified_at or now) >= (seen.woocommerce_modified_at or now):
            latest[row.sku] = row
    rows = list(latest.values())
    wc_ids = [r.woocommerce_id for r in rows if r.woocommerce_id is not None]
    existing = list(Product.objects.filter(Q(woocommerce_id__in=wc_ids) | Q(sku__in=[r.sku for r in rows])))
    by_wc = {p.woocommerce_id: p for p in existing if p.woocommerce_id is not None}
    by_sku = {p.sku: p for p in existing}
    writes: list[Product] = []
    for row in rows:
        local = by_wc.get(row.woocommerce_id or 0) or by_sku.get(row.sku)
        if local is not None and local.woocommerce_id not in (None, row.woocommerce_id):
            report.errors += 1
            conflicts.append(
                {"sku": row.sku, "woocommerce_id": row.woocommerce_id, "reason": "sku_linked_to_another_shop_product"}
            )
            continue
        if local is not None and local.sku != row.sku:
            # The SKU changed in the shop: rename the local row first (rare, one query).
            if row.sku in by_sku:
                report.errors += 1
                conflicts.append({"sku": row.sku, "woocommerce_id": row.woocommerce_id, "reason": "sku_taken"})
                continue
            Product.objects.filter(pk=local.pk).update(sku=row.sku)
            local.sku = row.sku
        stored = local.woocommerce_modified_at if local is not None else None
        incoming = row.woocommerce_modified_at
        if stored is not None and incoming is not None and incoming < stored:
            report.stale += 1
            continue
        if stored is not None and incoming == stored and local is not None and local.sync_state != SyncState.ERROR:
            report.unchanged += 1
            continue
        row.last_synced_at = now
        row.sync_error = ""
        if local is None:
            report.created += 1
            row.cost = row._shop_cost if row._shop_cost is not None else Decimal("0.00")  # type: ignore[attr-defined]
        else:
            report.updated += 1
            row.cost = row._shop_cost if row._shop_cost is not None else local.cost  # type: ignore[attr-defined]
            if not row._shop_collection:  # type: ignore[attr-defined]
                row.collection = local.collection
            row.currency = local.currency
            if local.sync_state in _LOCAL_WINS:
                # Local changes waiting in the outbox win until pushed.
                row.price, row.stock, row.status = local.price, local.stock, local.status
                row.compare_at_price = local.compare_at_price
                row.sync_state = local.sync_state
                row.woocommerce_modified_at = stored
                if stored is None or (incoming is not None and incoming > stored):
                    row.sync_state = SyncState.CONFLICT
                    row.sync_error = (
                        f"Changed in the shop at {incoming.isoformat() if incoming else '?'} while a local change "
                        "was waiting to be pushed; the local price/stock/status will be pushed (local wins)."
                    )
                    report.conflicts += 1
                    conflicts.append(
                        {"sku": row.sku, "woocommerce_id": row.woocommerce_id, "reason": "changed_on_both_sides"}
                    )
        writes.append(row)
    if writes:
        Product.objects.bulk_create(
            writes, update_conflicts=True, unique_fields=["sku"], update_fields=_PRODUCT_UPDATE_FIELDS
        )
        report.changed_ids.extend(Product.objects.filter(sku__in=[w.sku for w in writes]).values_list("id", flat=True))
    return report


def _customer_row(item: WcCustomer) -> Customer | None:
    email = item.email.strip().lower()
    if not email:
        return None
    billing = item.billing
    return Customer(
        email=email[:254],
        first_name=item.first_name[:100],
        last_name=item.last_name[:100],
        city=str(billing.get("city") or "")[:100],
        country=str(billing.get("country") or "")[:2],
        phone=str(billing.get("phone") or "").strip()[:32],
        woocommerce_id=item.id,
        woocommerce_modified_at=item.date_modified_gmt,
    )


def upsert_customers(items: Sequence[WcCustomer], *, now: datetime) -> EntityReport:
    report = EntityReport(fetched=len(items))
    rows: dict[str, Customer] = {}
    for item in items:
        row = _customer_row(item)
        if row is None:
            report.errors += 1
            continue
        rows[row.email] = row
        if row.woocommerce_modified_at and (report.newest is None or row.woocommerce_modified_at > report.newest):
            report.newest = row.woocommerce_modified_at
    wc_ids = [r.woocommerce_id for r in rows.values()]
    existing = list(Customer.objects.filter(Q(woocommerce_id__in=wc_ids) | Q(email__in=list(rows))))
    by_wc = {c.woocommerce_id: c for c in existing if c.woocommerce_id is not None}
    by_email = {c.email: c for c in existing}
    writes = []
    for row in rows.values():
        local = by_wc.get(row.woocommerce_id or 0) or by_email.get(row.email)
        if local is not None and local.woocommerce_id not in (None, row.woocommerce_id):
            report.errors += 1
            continue
        if local is not None and local.email != row.email:
            if row.email in by_email:
                report.errors += 1
                continue
            Customer.objects.filter(pk=local.pk).update(email=row.email)
        stored = local.woocommerce_modified_at if local is not None else None
        if stored is not None and row.woocommerce_modified_at is not None and row.woocommerce_modified_at <= stored:
            if row.woocommerce_modified_at < stored:
                report.stale += 1
            else:
                report.unchanged += 1
            continue
        row.last_synced_at = now
        if local is None:
            report.created += 1
        else:
            report.updated += 1
        writes.append(row)
    if writes:
        Customer.objects.bulk_create(
            writes,
            update_conflicts=True,
            unique_fields=["email"],
            update_fields=[
                "first_name",
                "last_name",
                "city",
                "country",
                "phone",
                "woocommerce_id",
                "woocommerce_modified_at",
                "last_synced_at",
                "updated_at",
            ],
        )
    return report


def upsert_orders(items: Sequence[WcOrder], *, now: datetime) -> EntityReport:
    """Upsert orders with their lines (lines of a changed order are replaced)."""
    report = EntityReport(fetched=len(items))
    latest: dict[int, WcOrder] = {}
    for item in items:
        latest[item.id] = item
        if item.date_modified_gmt and (report.newest is None or item.date_modified_gmt > report.newest):
            report.newest = item.date_modified_gmt
    stored = dict(
        Order.objects.filter(woocommerce_id__in=list(latest)).values_list("woocommerce_id", "woocommerce_modified_at")
    )
    changed: list[WcOrder] = []
    for item in latest.values():
        version = stored.get(item.id)
        if item.id in stored and version is not None and item.date_modified_gmt is not None:
            if item.date_modified_gmt < version:
                report.stale += 1
                continue
            if item.date_modified_gmt == version:
                report.unchanged += 1
                continue
        if item.id in stored:
            report.updated += 1
        else:
            report.created += 1
        changed.append(item)
    if not changed:
        return report
    numbers = [item.number or str(item.id) for item in changed]
    taken = set(
        Order.objects.filter(number__in=numbers)
        .exclude(woocommerce_id__in=[i.id for i in changed])
        .values_list("number", flat=True)
    )
    customer_ids = {i.customer_id for i in changed if i.customer_id}
    emails = {i.billing_email.lower() for i in changed if i.billing_email}
    customers = list(Customer.objects.filter(Q(woocommerce_id__in=customer_ids) | Q(email__in=emails)))
    customer_by_wc = {c.woocommerce_id: c for c in customers if c.woocommerce_id is not None}
    customer_by_email = {c.email: c for c in customers}
    product_wc_ids = {li.variation_id or li.product_id for i in changed for li in i.line_items}
    skus = {li.sku for i in changed for li in i.line_items if li.sku}
    products = list(
        Product.objects.filter(Q(woocommerce_id__in=product_wc_ids) | Q(sku__in=skus)).only(
            "id", "sku", "woocommerce_id"
        )
    )
    product_by_wc = {p.woocommerce_id: p for p in products if p.woocommerce_id is not None}
    product_by_sku = {p.sku: p for p in products}
    rows = []
    for item in changed:
        number = item.number or str(item.id)
        subtotal = sum((li.subtotal for li in item.line_items), Decimal("0"))
        rows.append(
            Order(
                number=(f"WC-{number}" if number in taken else number)[:32],
                customer=customer_by_wc.get(item.customer_id or 0) or customer_by_email.get(item.billing_email.lower()),
                status=_ORDER_STATUS_FROM_WC.get(item.status, OrderStatus.PENDING),
                currency=(item.currency or "USD")[:3],
                subtotal=_money(subtotal),
                discount_total=_money(item.discount_total),
                shipping_total=_money(item.shipping_total),
                tax_total=_money(item.total_tax),
                total=_money(max(item.total, Decimal("0"))),
                placed_at=item.date_created_gmt or item.date_modified_gmt or now,
                woocommerce_id=item.id,
                woocommerce_modified_at=item.date_modified_gmt,
                last_synced_at=now,
            )
        )
    Order.objects.bulk_create(
        rows,
        update_conflicts=True,
        unique_fields=["woocommerce_id"],
        update_fields=[
            "number",
            "customer",
            "status",
            "currency",
            "subtotal",
            "discount_total",
            "shipping_total",
            "tax_total",
            "total",
            "placed_at",
            "woocommerce_modified_at",
            "last_synced_at",
            "updated_at",
        ],
    )
    order_pk = dict(
        Order.objects.filter(woocommerce_id__in=[i.id for i in changed]).values_list("woocommerce_id", "id")
    )
    OrderItem.objects.filter(order_id__in=list(order_pk.values())).delete()
    lines = []
    for item in changed:
        for li in item.line_items:
            if li.quantity < 1:
                continue
            product = product_by_wc.get(li.variation_id or li.product_id) or product_by_sku.get(li.sku)
            lines.append(
                OrderItem(
                    order_id=order_pk[item.id],
                    product=product,
                    sku=(li.sku or (product.sku if product else f"WC-{li.product_id}"))[:64],
                    name=li.name[:200],
                    quantity=li.quantity,
                    unit_price=_money(li.subtotal / li.quantity),
                )
            )
    OrderItem.objects.bulk_create(lines, batch_size=1000)
    return report


# --- the sync run ----------------------------------------------------------------------


def _chunks(items: Iterable[T], size: int) -> Iterator[list[T]]:
    chunk: list[T] = []
    for item in items:
        chunk.append(item)
        if len(chunk) >= size:
            yield chunk
            chunk = []
    if chunk:
        yield chunk


class _Progress:
    """``task_update`` events while a sync runs: at most one per second, plus start and end."""

    def __init__(self, *, run_id: str, agent_id: str, task_id: str) -> None:
        self.run_id, self.agent_id, self.task_id = run_id, agent_id, task_id or run_id
        self._last = 0.0

    def send(self, status: str, progress: int, data: dict[str, Any], *, force: bool = False) -> None:
        now = time.monotonic()
        if not force and now - self._last < 1.0:
            return
        self._last = now
        publish(
            channel="tasks",
            event_type="task_update",
            payload={
                "task_id": self.task_id,
                "agent_id": self.agent_id,
                "status": status,
                "progress": progress,
                "data": {"action": "woocommerce_sync", "run_id": self.run_id, **data},
            },
            agent_id=self.agent_id,
            task_id=self.task_id,
        )

    def agent_status(self, status: str, reason: str, **data: Any) -> None:
        publish(
            channel="agents",
            event_type="agent_status_update",
            payload={"agent_id": self.agent_id, "status": status, "data": {"reason": reason, **data}},
            agent_id=self.agent_id,
        )


def _claim(connection: ShopConnection, now: datetime) -> None:
    until = now + timedelta(seconds=settings.CELERY_TASK_TIME_LIMIT)
    claimed = (
        ShopConnection.objects.filter(pk=connection.pk)
        .filter(Q(sync_lock_until__isnull=True) | Q(sync_lock_until__lt=now))
        .update(sync_lock_until=until, last_sync_started_at=now)
    )
    if not claimed:
        raise ConflictError("A WooCommerce sync is already running; try again when it has finished.")


def _import_products(
    client: WooCommerceClient,
    since: datetime | None,
    progress: _Progress,
    now: datetime,
    conflicts: list[dict[str, Any]],
) -> EntityReport:
    total = EntityReport()
    page, done = 1, 0
    seen: set[int] = set()
    pending: list[WcProduct] = []

    def flush(batch: list[WcProduct]) -> None:
        with transaction.atomic():
            report = upsert_products([_product_row(p) for p in batch], now=now, conflicts=conflicts)
            variable = [p for p in batch if p.variations]
            if variable:
                rows = []
                for parent in variable:
                    rows += [_product_row(v, parent=parent) for v in client.iter_variations(parent.id)]
                parent_pk = dict(
                    Product.objects.filter(woocommerce_id__in=[p.id for p in variable]).values_list(
                        "woocommerce_id", "id"
                    )
                )
                by_wc = {p.id: p for p in variable}
                for row in rows:
                    parent_wc = next((pid for pid, p in by_wc.items() if row.woocommerce_id in p.variations), None)
                    row.parent_id = parent_pk.get(parent_wc)
                report.merge(upsert_products(rows, now=now, conflicts=conflicts))
                report.fetched -= len(rows)  # counted as variations, not as listed products
        total.merge(report)

    while True:
        current = client.list_products(page=page, per_page=100, modified_after=since)
        for item in current.items:
            if item.id not in seen:
                seen.add(item.id)
                pending.append(item)
        if len(pending) >= CHUNK:
            flush(pending)
            done += len(pending)
            pending = []
        share = (page / current.total_pages) if current.total_pages else 1.0
        progress.send("running", int(60 * share), {"entity": "products", "fetched": len(seen), "total": current.total})
        if not current.items or not current.has_next:
            break
        page += 1
    if pending:
        flush(pending)
    return total


def shop_sync(
    *,
    full: bool = False,
    since: datetime | None = None,
    entities: Sequence[str] = ENTITIES,
    agent_id: str = "woocommerce-sync",
    task_id: str = "",
    actor_label: str = "system:sync",
) -> SyncReport:
    """Import from the shop: everything (``full``), or what changed after ``since``, or
    (neither) what changed after each entity's cursor. Checks the shop's webhooks; a
    disabled one is reported and its entity re-imported from its cursor (the gap)."""
    unknown = set(entities) - set(ENTITIES)
    if unknown:
        raise DomainError(f"Unknown entities: {', '.join(sorted(unknown))}.", code="invalid_entity")
    if since is not None and (since.tzinfo is None or since.utcoffset() is None):
        raise DomainError("--since needs a timezone-aware moment (e.g. 2024-05-01T00:00:00Z).", code="invalid_since")
    connection = require_connection()
    started = time.perf_counter()
    now = timezone.now()
    _claim(connection, now)
    run_id = f"sync-{uuid.uuid4()}"
    mode = "full" if full else ("since" if since else "incremental")
    report = SyncReport(run_id=run_id, mode=mode, since=since)
    progress = _Progress(run_id=run_id, agent_id=agent_id, task_id=task_id)
    progress.agent_status("busy", "woocommerce_sync_started", mode=mode)
    progress.send("running", 0, {"mode": mode}, force=True)
    wanted = list(entities)
    try:
        with client_for(connection) as client:
            report.disabled_webhooks = _check_webhooks(client, connection)
            for hook in report.disabled_webhooks:
                entity = {"product": "products", "order": "orders", "customer": "customers"}.get(
                    hook["topic"].split(".")[0]
                )
                if entity and entity not in wanted:
                    wanted.append(entity)  # backfill what the disabled webhook did not deliver

            def cursor_of(entity: str) -> datetime | None:
                if full:
                    return None
                if since is not None:
                    return since
                value: datetime | None = getattr(connection, f"{entity}_cursor")
                return value - CURSOR_OVERLAP if value else None

            if "products" in wanted:
                report.entities["products"] = _import_products(
                    client, cursor_of("products"), progress, now, report.conflicts
                )
            if "customers" in wanted:
                customers = EntityReport()
                for batch in _chunks(client.iter_customers(filters={"role": "all"}), CHUNK):
                    with transaction.atomic():
                        customers.merge(upsert_customers(batch, now=now))
                    progress.send("running", 75, {"entity": "customers", "fetched": customers.fetched})
                report.entities["customers"] = customers
            if "orders" in wanted:
                orders = EntityReport()
                for order_batch in _chunks(client.iter_orders(modified_after=cursor_of("orders")), CHUNK):
                    with transaction.atomic():
                        orders.merge(upsert_orders(order_batch, now=now))
                    progress.send("running", 90, {"entity": "orders", "fetched": orders.fetched})
                report.entities["orders"] = orders
    except (WooCommerceError, DomainError) as exc:
        message = str(exc)
        report.seconds = time.perf_counter() - started
        ShopConnection.objects.filter(pk=connection.pk).update(
            sync_lock_until=None,
            last_sync_finished_at=timezone.now(),
            last_error=message[:2000],
            last_error_at=timezone.now(),
            last_sync_report={**report.as_dict(), "error": message},
        )
        progress.send("failed", 100, {"error": message, "error_code": getattr(exc, "code", "error")}, force=True)
        progress.agent_status("error", "woocommerce_sync_failed", error=message)
        if not isinstance(exc, WooCommerceError):
            raise
        hint = "" if not isinstance(exc, AuthenticationError) else " (credentials refused: not retried)"
        raise SyncFailedError(f"WooCommerce sync failed{hint}: {message}", details={"run_id": run_id}) from exc
    except BaseException:
        ShopConnection.objects.filter(pk=connection.pk).update(sync_lock_until=None)
        raise
    report.seconds = time.perf_counter() - started
    updates: dict[str, Any] = {
        "sync_lock_until": None,
        "last_sync_finished_at": timezone.now(),
        "last_sync_report": report.as_dict(),
        "last_error": "",
    }
    if full:
        updates["last_full_sync_at"] = now
    for entity, entity_report in report.entities.items():
        current: datetime | None = getattr(connection, f"{entity}_cursor")
        if entity_report.newest and (current is None or entity_report.newest > current):
            updates[f"{entity}_cursor"] = entity_report.newest
    with transaction.atomic():
        ShopConnection.objects.filter(pk=connection.pk).update(**updates)
        audit_record(
            action="commerce.sync",
            actor_label=actor_label,
            target_type="shop_connection",
            target_id=connection.pk,
            details={k: v for k, v in report.as_dict().items() if k != "conflicts"},
        )
        changed = report.entities.get("products", EntityReport()).changed_ids
        if changed:
            transaction.on_commit(lambda: catalog_changes.products_changed(changed))
    summary = {name: r.as_dict() for name, r in report.entities.items()}
    progress.send("completed", 100, {"entities": summary, "conflicts": len(report.conflicts)}, force=True)
    progress.agent_status("idle", "woocommerce_sync_finished", seconds=round(report.seconds, 3))
    return report


def _check_webhooks(client: WooCommerceClient, connection: ShopConnection) -> list[dict[str, Any]]:
    """Ask the shop for its webhooks; report ours that are not active (disabled after failures)."""
    try:
        hooks = client.list_webhooks()
    except AuthenticationError:
        raise
    except WooCommerceError as exc:
        # Listing webhooks needs a read/write key on some shops; the sync itself can still run.
        logger.warning("could not list WooCommerce webhooks: %s", type(exc).__name__)
        return []
    report = [
        {"id": h.id, "name": h.name, "topic": h.topic, "status": h.status, "delivery_url": h.delivery_url}
        for h in hooks
    ]
    disabled = [h for h in report if h["status"] != "active" and h["topic"] in WEBHOOK_TOPICS]
    ShopConnection.objects.filter(pk=connection.pk).update(webhooks_checked_at=timezone.now(), webhooks_report=report)
    for hook in disabled:
        logger.warning(
            "WooCommerce webhook %s (%s) is %s: its changes are backfilled by this sync",
            hook["id"],
            hook["topic"],
            hook["status"],
        )
    return disabled
