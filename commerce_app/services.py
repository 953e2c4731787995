"""Writes to the shop's data: the demo shop, and catalog writes from the API and agents.

Sync from WooCommerce lives in ``sync.py``, pushes to it in ``outbox.py``, webhook
intake in ``webhook_intake.py``. Every catalog write here is atomic, audited, queues
price/stock/status changes of shop-linked products in the outbox, and announces the
changed ids through ``devskyy.core.catalog_changes`` after commit.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.utils import timezone

from commerce_app.models import Customer, Order, OrderItem, OrderStatus, Product, ProductStatus
from devskyy.core import catalog_changes
from devskyy.core.audit import audit_record
from devskyy.core.background import enqueue
from devskyy.core.errors import ConflictError, DomainError, NotFoundError

CENT = Decimal("0.01")

# The brand's three collections, with the garments each carries and its price level.
_COLLECTIONS: dict[str, dict[str, object]] = {
    "Signature": {
        "prefix": "SIG",
        "price_factor": Decimal("1.00"),
        "adjectives": ["Essential", "Classic", "Heritage", "Everyday", "Monogram", "Tailored", "Core"],
    },
    "Black Rose": {
        "prefix": "BRS",
        "price_factor": Decimal("1.35"),
        "adjectives": ["Midnight", "Thorned", "Velvet", "Noir", "Bloom", "Eclipse", "Obsidian"],
    },
    "Love Hurts": {
        "prefix": "LVH",
        "price_factor": Decimal("1.15"),
        "adjectives": ["Heartbreak", "Scarlet", "Bleeding Heart", "Bittersweet", "Rebel", "Wildheart", "Crimson"],
    },
}
_CATEGORY_CODES = {
    "hoodies": "HOO",
    "t-shirts": "TEE",
    "jackets": "JKT",
    "pants": "PNT",
    "dresses": "DRS",
    "accessories": "ACC",
}
# category -> (garments, base price in USD, cost share of price)
_GARMENTS: dict[str, tuple[list[str], Decimal, Decimal]] = {
    "hoodies": (["Hoodie", "Zip Hoodie", "Oversized Hoodie"], Decimal("89.00"), Decimal("0.38")),
    "t-shirts": (["Tee", "Long Sleeve Tee", "Boxy Tee"], Decimal("45.00"), Decimal("0.30")),
    "jackets": (["Bomber Jacket", "Varsity Jacket", "Denim Jacket"], Decimal("189.00"), Decimal("0.42")),
    "pants": (["Joggers", "Cargo Pants", "Track Pants"], Decimal("95.00"), Decimal("0.36")),
    "dresses": (["Slip Dress", "Midi Dress"], Decimal("129.00"), Decimal("0.34")),
    "accessories": (["Beanie", "Dad Hat", "Tote Bag", "Crossbody Bag"], Decimal("39.00"), Decimal("0.28")),
}
_FIRST_NAMES = [
    "Ava", "Liam", "Maya", "Noah", "Zoe", "Elijah", "Nia", "Mateo", "Aaliyah", "Kai", "Imani", "Luca",
    "Sofia", "Jalen", "Amara", "Diego", "Chloe", "Malik", "Leila", "Theo",
]  # fmt: skip
_LAST_NAMES = [
    "Johnson", "Rivera", "Chen", "Okafor", "Williams", "Patel", "Garcia", "Nguyen", "Brown", "Kim",
    "Davis", "Lopez", "Martin", "Jackson", "Moore", "Taylor",
]  # fmt: skip
_CITIES = [
    ("Oakland", "US"), ("Los Angeles", "US"), ("New York", "US"), ("Atlanta", "US"), ("Chicago", "US"),
    ("Houston", "US"), ("Toronto", "CA"), ("London", "GB"), ("Paris", "FR"), ("Berlin", "DE"),
]  # fmt: skip
_STATUS_WEIGHTS = [
    (OrderStatus.COMPLETED, 84),
    (OrderStatus.PROCESSING, 6),
    (OrderStatus.CANCELLED, 4),
    (OrderStatus.REFUNDED, 3),
    (OrderStatus.FAILED, 2),
    (OrderStatus.PENDING, 1),
]
PRODUCTS_PER_COLLECTION = 20
CUSTOMERS = 200
DAYS_OF_ORDERS = 365


@dataclass(frozen=True)
class DemoShopResult:
    products_created: int
    customers_created: int
    orders_created: int
    items_created: int
    products_total: int
    customers_total: int
    orders_total: int


def _money(value: Decimal) -> Decimal:
    return value.quantize(CENT, rounding=ROUND_HALF_UP)


def _demo_products(rng: random.Random) -> list[Product]:
    products: list[Product] = []
    categories = list(_GARMENTS)
    for collection, spec in _COLLECTIONS.items():
        adjectives: list[str] = spec["adjectives"]  # type: ignore[assignment]
        factor: Decimal = spec["price_factor"]  # type: ignore[assignment]
        prefix: str = spec["prefix"]  # type: ignore[assignment]
        for index in range(PRODUCTS_PER_COLLECTION):
            category = categories[index % len(categories)]
            garments, base, cost_share = _GARMENTS[category]
            garment = garments[(index // len(categories)) % len(garments)]
            adjective = adjectives[index % len(adjectives)]
            price = _money(base * factor + Decimal(rng.randrange(0, 4)) * 5)
            cost = _money(price * cost_share)
            on_sale = rng.random() < 0.15
            stock = rng.choice([0, 2, 4, 7]) if rng.random() < 0.2 else rng.randrange(10, 160)
            sku = f"{prefix}-{_CATEGORY_CODES[category]}-{index + 1:03d}"
            products.append(
                Product(
                    sku=sku,
                    name=f"{collection} {adjective} {garment}",
                    description=(
                        f"{adjective} {garment.lower()} from the {collection} collection. "
                        f"Premium {rng.choice(['heavyweight cotton', 'organic cotton fleece', 'brushed twill', 'washed denim', 'satin'])}, "
                        f"{rng.choice(['relaxed', 'oversized', 'tailored', 'cropped'])} fit."
                    ),
                    price=price,
                    cost=cost,
                    compare_at_price=_money(price * Decimal("1.25")) if on_sale else None,
                    currency="USD",
                    stock=stock,
                    category=category,
                    collection=collection,
                    status=ProductStatus.ARCHIVED if index == PRODUCTS_PER_COLLECTION - 1 else ProductStatus.ACTIVE,
                    images=[f"/media/demo/{sku.lower()}.jpg"],
                )
            )
    return products


def _demo_customers(rng: random.Random) -> list[Customer]:
    customers = []
    for index in range(CUSTOMERS):
        first, last = rng.choice(_FIRST_NAMES), rng.choice(_LAST_NAMES)
        city, country = rng.choice(_CITIES)
        customers.append(
            Customer(
                email=f"{first.lower()}.{last.lower()}.{index + 1:03d}@example.com",
                first_name=first,
                last_name=last,
                city=city,
                country=country,
                # 555-01xx numbers are reserved for fiction; derived from the index, so the
                # random sequence (and every other demo value) stays what it was.
                phone=f"+1510555{index % 100 + 100:04d}",
                accepts_marketing=rng.random() < 0.6,
            )
        )
    return customers


def _pick_status(rng: random.Random) -> str:
    roll = rng.randrange(sum(weight for _, weight in _STATUS_WEIGHTS))
    for status, weight in _STATUS_WEIGHTS:
        if roll < weight:
            return str(status)
        roll -= weight
    return str(OrderStatus.COMPLETED)  # pragma: no cover - weights always cover the roll


@transaction.atomic
def demo_shop_seed(*, seed: int = 2024, now: datetime | None = None) -> DemoShopResult:
    """Create the demo shop (~60 products, 200 customers, a year of orders) where missing.

    Deterministic for a given ``seed``: the same SKUs, e-mails and order numbers every
    time. Idempotent: rows that exist are left as they are (an operator's edits
    survive), only missing ones are created. Order dates run up to ``now`` (first seed).
    """
    rng = random.Random(seed)  # noqa: S311 - demo data, not security
    now = now or timezone.now()

    products = _demo_products(rng)
    existing_skus = set(Product.objects.filter(sku__in=[p.sku for p in products]).values_list("sku", flat=True))
    new_products = [p for p in products if p.sku not in existing_skus]
    Product.objects.bulk_create(new_products)
    by_sku = {p.sku: p for p in Product.objects.filter(sku__in=[p.sku for p in products])}
    catalog_changes.products_changed(by_sku[p.sku].pk for p in new_products)

    customers = _demo_customers(rng)
    existing_emails = set(
        Customer.objects.filter(email__in=[c.email for c in customers]).values_list("email", flat=True)
    )
    new_customers = [c for c in customers if c.email not in existing_emails]
    Customer.objects.bulk_create(new_customers)
    by_email = {c.email: c for c in Customer.objects.filter(email__in=[c.email for c in customers])}

    # Orders: a steady base with growth over the year and a holiday peak. Popularity is
    # skewed so that best sellers and slow movers exist.
    sellable = [p for p in products if p.status == ProductStatus.ACTIVE]
    popularity = [rng.paretovariate(1.3) for _ in sellable]
    loyal = [c.email for c in customers]
    loyalty = [rng.paretovariate(2.5) for _ in loyal]
    planned: list[tuple[Order, list[OrderItem]]] = []
    number = 100000
    for day in range(DAYS_OF_ORDERS, 0, -1):
        date = now - timedelta(days=day)
        growth = 1 + (DAYS_OF_ORDERS - day) / DAYS_OF_ORDERS
        holiday = 1.8 if date.month in (11, 12) else 1.0
        for _ in range(rng.randrange(1, 4) + int(growth * holiday * rng.random() * 3)):
            number += 1
            placed_at = date.replace(hour=rng.randrange(0, 24), minute=rng.randrange(0, 60), second=0, microsecond=0)
            email = rng.choices(loyal, weights=loyalty)[0]
            lines: list[OrderItem] = []
            for product_template in rng.choices(sellable, weights=popularity, k=rng.choice([1, 1, 1, 2, 2, 3])):
                product = by_sku[product_template.sku]
                lines.append(
                    OrderItem(
                        product=product,
                        sku=product.sku,
                        name=product.name,
                        quantity=rng.choice([1, 1, 1, 2]),
                        unit_price=product.price,
                    )
                )
            subtotal = sum((line.unit_price * line.quantity for line in lines), Decimal("0.00"))
            discount = _money(subtotal * Decimal("0.10")) if rng.random() < 0.12 else Decimal("0.00")
            shipping = Decimal("0.00") if subtotal >= 150 else Decimal("8.00")
            tax = _money((subtotal - discount) * Decimal("0.0725"))
            order = Order(
                number=f"DS-{number}",
                customer=by_email[email],
                status=_pick_status(rng),
                currency="USD",
                subtotal=_money(subtotal),
                discount_total=discount,
                shipping_total=shipping,
                tax_total=tax,
                total=_money(subtotal - discount + shipping + tax),
                placed_at=placed_at,
            )
            planned.append((order, lines))

    existing_numbers = set(
        Order.objects.filter(number__in=[o.number for o, _ in planned]).values_list("number", flat=True)
    )
    missing = [(o, lines) for o, lines in planned if o.number not in existing_numbers]
    Order.objects.bulk_create([o for o, _ in missing], batch_size=500)
    items: list[OrderItem] = []
    for order, lines in missing:
        for line in lines:
            line.order = order
            items.append(line)
    OrderItem.objects.bulk_create(items, batch_size=1000)
    return DemoShopResult(
        products_created=len(new_products),
        customers_created=len(new_customers),
        orders_created=len(missing),
        items_created=len(items),
        products_total=Product.objects.count(),
        customers_total=Customer.objects.count(),
        orders_total=Order.objects.count(),
    )


# --- catalog writes (API, bulk, agents' tools) -----------------------------------------

PRODUCT_FIELDS = (
    "sku",
    "name",
    "description",
    "price",
    "cost",
    "compare_at_price",
    "currency",
    "stock",
    "category",
    "collection",
    "status",
    "images",
)


class ProductNotFoundError(NotFoundError):
    code = "product_not_found"


def _validate_product(values: dict[str, Any]) -> None:
    """Business rules the serializer cannot see (stock and prices are also DB constraints)."""
    if values.get("stock") is not None and int(values["stock"]) < 0:
        raise DomainError("Stock cannot be negative.", code="invalid_stock", details={"stock": values["stock"]})
    for name in ("price", "cost"):
        if values.get(name) is not None and Decimal(values[name]) < 0:
            raise DomainError(f"{name} cannot be negative.", code=f"invalid_{name}")
    if values.get("status") is not None and values["status"] not in ProductStatus.values:
        raise DomainError(f"Unknown status {values['status']!r}.", code="invalid_status")


def _after_catalog_write(ids: list[int], *, push: bool) -> None:
    transaction.on_commit(lambda: catalog_changes.products_changed(ids))
    if push:
        from commerce_app.tasks import push_outbox

        enqueue(push_outbox)


def product_create(*, data: dict[str, Any], actor: Any = None, agent_task_id: str = "") -> Product:
    """Create a local product (not in the shop until it is linked by a sync or created there)."""
    values = {k: v for k, v in data.items() if k in PRODUCT_FIELDS}
    _validate_product(values)
    with transaction.atomic():
        if Product.objects.filter(sku=values.get("sku", "")).exists():
            raise ConflictError(f"A product with SKU {values.get('sku')!r} exists.", code="sku_taken")
        product = Product.objects.create(**values)
        audit_record(
            action="commerce.product.created",
            actor=actor,
            target_type="product",
            target_id=product.pk,
            details={"sku": product.sku, "agent_task_id": agent_task_id} if agent_task_id else {"sku": product.sku},
        )
        _after_catalog_write([product.pk], push=False)
    return product


def product_update(
    *, product: Product, data: dict[str, Any], actor: Any = None, agent_task_id: str = "", actor_label: str = ""
) -> Product:
    """Change a product. Price/stock/status changes of a shop-linked product go to the outbox."""
    values = {k: v for k, v in data.items() if k in PRODUCT_FIELDS}
    _validate_product(values)
    with transaction.atomic():
        locked = Product.objects.select_for_update().get(pk=product.pk)
        if "sku" in values and values["sku"] != locked.sku:
            if Product.objects.filter(sku=values["sku"]).exclude(pk=locked.pk).exists():
                raise ConflictError(f"A product with SKU {values['sku']!r} exists.", code="sku_taken")
            if locked.woocommerce_id is not None:
                raise ConflictError(
                    "The SKU of a shop-linked product is changed in WooCommerce, not here.", code="sku_linked"
                )
        before = {name: getattr(locked, name) for name in values}
        for name, value in values.items():
            setattr(locked, name, value)
        try:
            locked.full_clean(validate_unique=False, validate_constraints=False)
        except ValidationError as exc:
            raise DomainError("Invalid product values.", code="invalid_product", details=exc.message_dict) from exc
        changed = {name: value for name, value in values.items() if before[name] != getattr(locked, name)}
        if not changed:
            return locked
        locked.save(update_fields=[*changed, "updated_at"])
        pushed = {k: getattr(locked, k) for k in ("price", "stock", "status") if k in changed}
        entry = outbox_add_for(locked, pushed, agent_task_id=agent_task_id, actor_label=actor_label)
        audit_record(
            action="commerce.product.updated",
            actor=actor,
            actor_label=actor_label,
            target_type="product",
            target_id=locked.pk,
            details={
                "sku": locked.sku,
                "changed": {
                    k: str(before[k]) + " -> " + str(getattr(locked, k)) for k in changed if k != "description"
                },
                "outbox_entry": entry.pk if entry else None,
                **({"agent_task_id": agent_task_id} if agent_task_id else {}),
            },
        )
        _after_catalog_write([locked.pk], push=entry is not None)
    return locked


def outbox_add_for(product: Product, change: dict[str, Any], *, agent_task_id: str, actor_label: str) -> Any:
    from commerce_app.outbox import outbox_add

    if not change:
        return None
    return outbox_add(product=product, change=change, agent_task_id=agent_task_id, actor_label=actor_label)


def product_delete(*, product: Product, actor: Any = None) -> None:
    """Delete a local-only product. Shop-linked ones are archived instead (that is pushed)."""
    with transaction.atomic():
        if product.woocommerce_id is not None:
            raise ConflictError(
                "This product is linked to the WooCommerce shop: set its status to archived instead "
                "(the change is pushed to the shop).",
                code="product_linked_to_shop",
                details={"sku": product.sku, "woocommerce_id": product.woocommerce_id},
            )
        pk, sku = product.pk, product.sku
        product.delete()
        audit_record(
            action="commerce.product.deleted", actor=actor, target_type="product", target_id=pk, details={"sku": sku}
        )
        _after_catalog_write([pk], push=False)


@dataclass(frozen=True)
class BulkItemResult:
    index: int
    status: str  # created, updated, deleted, valid, error
    id: int | None = None
    sku: str = ""
    errors: Any = None


def products_bulk(
    *,
    action: str,
    items: list[dict[str, Any]],
    validate: Any,
    validate_only: bool,
    actor: Any = None,
) -> list[BulkItemResult]:
    """Apply ``action`` to each item in its own savepoint: one bad item never sinks the rest.

    ``validate(action, item)`` returns ``(clean_values, errors)`` (the API's serializers).
    """
    results: list[BulkItemResult] = []
    with transaction.atomic():
        for index, raw in enumerate(items):
            values, errors = validate(action, raw)
            sku = str(raw.get("sku", "")) if isinstance(raw, dict) else ""
            if errors:
                results.append(BulkItemResult(index, "error", sku=sku, errors=errors))
                continue
            try:
                with transaction.atomic():
                    results.append(_bulk_one(index, action, values, validate_only=validate_only, actor=actor))
            except DomainError as exc:
                results.append(
                    BulkItemResult(index, "error", sku=sku, errors={"code": exc.code, "message": exc.message})
                )
            except IntegrityError as exc:
                results.append(
                    BulkItemResult(
                        index, "error", sku=sku, errors={"code": "integrity_error", "message": str(exc)[:300]}
                    )
                )
    return results


def _find(values: dict[str, Any]) -> Product:
    qs = Product.objects.all()
    product = qs.filter(pk=values["id"]).first() if values.get("id") else qs.filter(sku=values.get("sku", "")).first()
    if product is None:
        raise ProductNotFoundError("No such product.", details={"id": values.get("id"), "sku": values.get("sku")})
    return product


def _bulk_one(index: int, action: str, values: dict[str, Any], *, validate_only: bool, actor: Any) -> BulkItemResult:
    if action == "create":
        if Product.objects.filter(sku=values["sku"]).exists():
            raise ConflictError(f"A product with SKU {values['sku']!r} exists.", code="sku_taken")
        if validate_only:
            return BulkItemResult(index, "valid", sku=values["sku"])
        product = product_create(data=values, actor=actor)
        return BulkItemResult(index, "created", id=product.pk, sku=product.sku)
    product = _find(values)
    if action == "update":
        if validate_only:
            _validate_product(values)
            return BulkItemResult(index, "valid", id=product.pk, sku=product.sku)
        changes = {k: v for k, v in values.items() if k not in ("id",) and not (k == "sku" and v == product.sku)}
        updated = product_update(product=product, data=changes, actor=actor)
        return BulkItemResult(index, "updated", id=updated.pk, sku=updated.sku)
    if validate_only:
        if product.woocommerce_id is not None:
            raise ConflictError("Linked to the shop: archive instead.", code="product_linked_to_shop")
        return BulkItemResult(index, "valid", id=product.pk, sku=product.sku)
    pk, sku = product.pk, product.sku
    product_delete(product=product, actor=actor)
    return BulkItemResult(index, "deleted", id=pk, sku=sku)


# --- marketing consent -----------------------------------------------------------------


class CustomerNotFoundError(NotFoundError):
    code = "customer_not_found"


def customer_marketing_opt_out(*, customer_id: int, actor_label: str) -> bool:
    """The customer no longer accepts marketing (an unsubscribe link, an operator).

    WooCommerce's sync never sets ``accepts_marketing``, so the opt-out stands until the
    customer opts in again. Returns whether anything changed (a second click is a no-op).
    """
    with transaction.atomic():
        customer = Customer.objects.select_for_update().filter(pk=customer_id).first()
        if customer is None:
            raise CustomerNotFoundError("No such customer.")
        if not customer.accepts_marketing:
            return False
        customer.accepts_marketing = False
        customer.save(update_fields=["accepts_marketing", "updated_at"])
        audit_record(
            action="commerce.customer.marketing_opt_out",
            actor_label=actor_label,
            target_type="customer",
            target_id=customer.pk,
        )
    return True
