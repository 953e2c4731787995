"""Writes to the shop's data.

For now only the deterministic demo shop: WooCommerce sync and product writes arrive
with issue 6 and will live here too.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import ROUND_HALF_UP, Decimal

from django.db import transaction
from django.utils import timezone

from commerce_app.models import Customer, Order, OrderItem, OrderStatus, Product, ProductStatus
from devskyy.core.catalog_changes import products_changed

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
    products_changed(by_sku[p.sku].pk for p in new_products)

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
