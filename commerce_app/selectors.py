"""Reads of the shop's data, each one bounded and done in a fixed number of queries.

Sales figures count only orders in ``REVENUE_STATUSES`` (processing, completed);
revenue of a line is ``quantity * unit_price`` as sold, not today's price.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any, Literal

from django.db import connection
from django.db.models import (
    Count,
    DecimalField,
    Exists,
    ExpressionWrapper,
    F,
    Max,
    OuterRef,
    Q,
    QuerySet,
    Sum,
    Value,
)
from django.db.models.functions import Coalesce, TruncDay, TruncMonth, TruncWeek

from commerce_app.models import (
    REVENUE_STATUSES,
    Customer,
    Order,
    OrderItem,
    Product,
    ProductStatus,
    ShopConnection,
)

ZERO = Decimal("0.00")
_MONEY_FIELD: DecimalField[Decimal, Decimal] = DecimalField(max_digits=14, decimal_places=2)
SalesGroup = Literal["product", "category", "collection", "day", "month"]


def _line_revenue() -> ExpressionWrapper[Any]:
    return ExpressionWrapper(F("quantity") * F("unit_price"), output_field=_MONEY_FIELD)


def product_search(
    *,
    query: str = "",
    category: str = "",
    collection: str = "",
    status: str | None = ProductStatus.ACTIVE,
    in_stock: bool | None = None,
    min_price: Decimal | None = None,
    max_price: Decimal | None = None,
    limit: int = 50,
) -> list[Product]:
    """Products matching every given filter; ``query`` matches name, SKU or description."""
    qs: QuerySet[Product] = Product.objects.all()
    if query:
        qs = qs.filter(Q(name__icontains=query) | Q(sku__icontains=query) | Q(description__icontains=query))
    if category:
        qs = qs.filter(category__iexact=category)
    if collection:
        qs = qs.filter(collection__iexact=collection)
    if status:
        qs = qs.filter(status=status)
    if in_stock is True:
        qs = qs.filter(stock__gt=0)
    elif in_stock is False:
        qs = qs.filter(stock=0)
    if min_price is not None:
        qs = qs.filter(price__gte=min_price)
    if max_price is not None:
        qs = qs.filter(price__lte=max_price)
    return list(qs.order_by("name", "sku")[:limit])


def products_by_sku(skus: Sequence[str]) -> dict[str, Product]:
    return {p.sku: p for p in Product.objects.filter(sku__in=list(skus))}


# What a product looks like in tool results (agents_app.tools.common.product_row), in
# that order: also the columns low_stock_with_sales reads (no db_column here).
PRODUCT_ROW_FIELDS = (
    "sku",
    "name",
    "category",
    "collection",
    "price",
    "compare_at_price",
    "currency",
    "stock",
    "status",
)


def low_stock_with_sales(
    *, threshold: int, since: datetime, collection: str = "", limit: int = 200
) -> list[tuple[Product, int]]:
    """Active products with ``stock <= threshold`` (in ``collection``, case-insensitive),
    emptiest first, each with the units sold since ``since`` (:func:`units_sold_by_sku`),
    in one statement.

    Written out rather than built by the ORM (PERF P5: ``low_stock_report`` is the tool
    the task benchmark runs): building and compiling the two ORM queries cost ~3 ms of
    CPU per report on the benchmark host, against ~0.3 ms for this statement
    (bench/README.md). The products are model instances with only the columns
    ``PRODUCT_ROW_FIELDS``; values are parameters.
    """
    quote = connection.ops.quote_name
    product, item, order = (quote(m._meta.db_table) for m in (Product, OrderItem, Order))
    columns = ", ".join(f"p.{quote(name)}" for name in ("id", *PRODUCT_ROW_FIELDS))
    in_collection = " AND UPPER(p.collection) = UPPER(%s)" if collection else ""
    revenue = ", ".join(["%s"] * len(REVENUE_STATUSES))
    sql = f"""
        WITH low AS (
            SELECT {columns} FROM {product} AS p
            WHERE p.status = %s AND p.stock <= %s{in_collection}
            ORDER BY p.stock, p.sku LIMIT %s
        )
        SELECT low.*, COALESCE((
            SELECT SUM(i.quantity) FROM {item} AS i INNER JOIN {order} AS o ON o.id = i.order_id
            WHERE i.sku = low.sku AND o.status IN ({revenue}) AND o.placed_at >= %s
        ), 0) AS units_sold
        FROM low ORDER BY low.stock, low.sku
    """  # noqa: S608 - table and column names are ours; every value is a parameter
    params: list[Any] = [ProductStatus.ACTIVE.value, threshold, *([collection] if collection else []), limit]
    params += [str(status) for status in REVENUE_STATUSES]
    params.append(connection.ops.adapt_datetimefield_value(since))
    return [(p, int(p.units_sold)) for p in Product.objects.raw(sql, params)]  # type: ignore[attr-defined]


def units_sold_by_sku(*, since: datetime, skus: Sequence[str] | None = None) -> dict[str, int]:
    qs = OrderItem.objects.filter(order__status__in=REVENUE_STATUSES, order__placed_at__gte=since)
    if skus is not None:
        qs = qs.filter(sku__in=list(skus))
    return {row["sku"]: int(row["units"]) for row in qs.values("sku").annotate(units=Sum("quantity"))}


def sales_summary(*, start: datetime, end: datetime, group_by: SalesGroup, limit: int = 100) -> dict[str, Any]:
    """Units, revenue and order count in ``[start, end)``, grouped, biggest revenue first."""
    lines = OrderItem.objects.filter(
        order__status__in=REVENUE_STATUSES, order__placed_at__gte=start, order__placed_at__lt=end
    )
    key_fields: dict[str, Any] = {
        "product": {"key": F("sku"), "label": F("name")},
        "category": {"key": Coalesce(F("product__category"), Value("(deleted product)")), "label": Value("")},
        "collection": {"key": Coalesce(F("product__collection"), Value("(deleted product)")), "label": Value("")},
    }
    if group_by in ("day", "month"):
        trunc = TruncDay("order__placed_at") if group_by == "day" else TruncMonth("order__placed_at")
        by_period: Any = lines.annotate(period=trunc).values("period")
        rows_raw = by_period.annotate(
            units=Sum("quantity"), revenue=Sum(_line_revenue()), orders=Count("order", distinct=True)
        ).order_by("period")
        rows = [
            {
                "key": row["period"].date().isoformat(),
                "units": int(row["units"]),
                "revenue": row["revenue"].quantize(Decimal("0.01")),
                "orders": row["orders"],
            }
            for row in rows_raw[:limit]
        ]
    else:
        fields = key_fields[group_by]
        annotated: Any = lines.annotate(**fields)
        by_key = annotated.values("key", "label")
        rows_raw = by_key.annotate(
            units=Sum("quantity"), revenue=Sum(_line_revenue()), orders=Count("order", distinct=True)
        ).order_by("-revenue", "key")
        rows = [
            {
                "key": row["key"],
                **({"name": row["label"]} if group_by == "product" else {}),
                "units": int(row["units"]),
                "revenue": row["revenue"].quantize(Decimal("0.01")),
                "orders": row["orders"],
            }
            for row in rows_raw[:limit]
        ]
    totals = lines.aggregate(units=Sum("quantity"), revenue=Sum(_line_revenue()), orders=Count("order", distinct=True))
    return {
        "rows": rows,
        "totals": {
            "units": int(totals["units"] or 0),
            "revenue": (totals["revenue"] or ZERO).quantize(Decimal("0.01")),
            "orders": totals["orders"],
        },
    }


def top_customers(*, start: datetime, end: datetime, limit: int = 10) -> list[dict[str, Any]]:
    """Customers by revenue (order totals) in ``[start, end)``."""
    window = Q(orders__status__in=REVENUE_STATUSES, orders__placed_at__gte=start, orders__placed_at__lt=end)
    rows = (
        Customer.objects.annotate(
            order_count=Count("orders", filter=window),
            revenue=Coalesce(Sum("orders__total", filter=window), Value(ZERO), output_field=_MONEY_FIELD),
            last_order_at=Max("orders__placed_at", filter=window),
        )
        .filter(order_count__gt=0)
        .order_by("-revenue", "email")[:limit]
    )
    return [
        {
            "customer_id": c.pk,
            "email": c.email,
            "name": c.full_name,
            "orders": c.order_count,
            "revenue": c.revenue.quantize(Decimal("0.01")),
            "last_order_at": c.last_order_at,
        }
        for c in rows
    ]


def customer_order_stats(*, until: datetime) -> list[dict[str, Any]]:
    """Per customer with revenue orders before ``until``: count, revenue, last order (for RFM)."""
    window = Q(orders__status__in=REVENUE_STATUSES, orders__placed_at__lt=until)
    return list(
        Customer.objects.annotate(
            order_count=Count("orders", filter=window),
            revenue=Coalesce(Sum("orders__total", filter=window), Value(ZERO), output_field=_MONEY_FIELD),
            last_order_at=Max("orders__placed_at", filter=window),
        )
        .filter(order_count__gt=0)
        .values("id", "email", "order_count", "revenue", "last_order_at")
        .order_by("id")
    )


def weekly_units(*, sku: str, since: datetime) -> list[tuple[datetime, int]]:
    """Units of ``sku`` sold per calendar week (weeks with no sale are absent)."""
    rows = (
        OrderItem.objects.filter(sku=sku, order__status__in=REVENUE_STATUSES, order__placed_at__gte=since)
        .annotate(week=TruncWeek("order__placed_at"))
        .values("week")
        .annotate(units=Sum("quantity"))
        .order_by("week")
    )
    return [(row["week"], int(row["units"])) for row in rows]


def inventory_value(*, collection: str = "") -> list[dict[str, Any]]:
    """Stock on hand valued at cost and at price, per collection."""
    qs = Product.objects.filter(status=ProductStatus.ACTIVE)
    if collection:
        qs = qs.filter(collection__iexact=collection)
    cost = ExpressionWrapper(F("stock") * F("cost"), output_field=_MONEY_FIELD)
    retail = ExpressionWrapper(F("stock") * F("price"), output_field=_MONEY_FIELD)
    rows = (
        qs.values("collection")
        .annotate(products=Count("id"), units=Sum("stock"), cost_value=Sum(cost), retail_value=Sum(retail))
        .order_by("collection")
    )
    return [
        {
            "collection": row["collection"] or "(none)",
            "products": row["products"],
            "units": int(row["units"] or 0),
            "cost_value": (row["cost_value"] or ZERO).quantize(Decimal("0.01")),
            "retail_value": (row["retail_value"] or ZERO).quantize(Decimal("0.01")),
        }
        for row in rows
    ]


def order_lookup(*, number: str = "", email: str = "", limit: int = 20) -> list[Order]:
    """Orders by number or by customer e-mail, newest first, with items and customer loaded."""
    qs = Order.objects.select_related("customer").prefetch_related("items")
    if number:
        qs = qs.filter(number__iexact=number)
    if email:
        qs = qs.filter(customer__email__iexact=email)
    return list(qs.order_by("-placed_at")[:limit])


def product_count() -> int:
    return Product.objects.count()


def window_until_now(days: int, now: datetime) -> tuple[datetime, datetime]:
    return now - timedelta(days=days), now


# --- marketing audiences (agents_app.marketing reads customers only through these) -----


def customer_audience(
    *,
    min_orders: int | None = None,
    min_total_spent: Decimal | None = None,
    ordered_since: datetime | None = None,
    not_ordered_since: datetime | None = None,
    purchased_product_ids: Sequence[int] = (),
    purchased_categories: Sequence[str] = (),
    countries: Sequence[str] = (),
    accepts_marketing: bool | None = None,
    customer_ids: Sequence[int] | None = None,
) -> QuerySet[Customer]:
    """Customers matching every given condition, ordered by id (no duplicates).

    Purchase conditions count revenue orders only (``REVENUE_STATUSES``):
    ``min_orders``/``min_total_spent`` over all time; ``ordered_since``: at least one
    such order placed at or after it; ``not_ordered_since``: none since then (customers
    who never ordered included); ``purchased_*``: bought any of the products / any
    product of the categories (case-insensitive). ``customer_ids`` narrows to those ids
    (a segment computed elsewhere). ``accepts_marketing`` None = consent not filtered.
    """
    qs: QuerySet[Customer] = Customer.objects.all()
    if customer_ids is not None:
        qs = qs.filter(pk__in=list(customer_ids))
    if countries:
        qs = qs.filter(country__in=[c.upper() for c in countries])
    if accepts_marketing is not None:
        qs = qs.filter(accepts_marketing=accepts_marketing)
    revenue = Order.objects.filter(customer=OuterRef("pk"), status__in=REVENUE_STATUSES)
    if ordered_since is not None:
        qs = qs.filter(Exists(revenue.filter(placed_at__gte=ordered_since)))
    if not_ordered_since is not None:
        qs = qs.exclude(Exists(revenue.filter(placed_at__gte=not_ordered_since)))
    lines = OrderItem.objects.filter(order__customer=OuterRef("pk"), order__status__in=REVENUE_STATUSES)
    if purchased_product_ids:
        qs = qs.filter(Exists(lines.filter(product_id__in=list(purchased_product_ids))))
    if purchased_categories:
        category = Q()
        for name in purchased_categories:
            category |= Q(product__category__iexact=name)
        qs = qs.filter(Exists(lines.filter(category)))
    if min_orders is not None or min_total_spent is not None:
        window = Q(orders__status__in=REVENUE_STATUSES)
        qs = qs.annotate(
            revenue_orders=Count("orders", filter=window),
            revenue_total=Coalesce(Sum("orders__total", filter=window), Value(ZERO), output_field=_MONEY_FIELD),
        )
        if min_orders is not None:
            qs = qs.filter(revenue_orders__gte=min_orders)
        if min_total_spent is not None:
            qs = qs.filter(revenue_total__gte=min_total_spent)
    return qs.order_by("id")


def revenue_orders_of(
    *, customer_ids: Sequence[int], placed_after: datetime, placed_before: datetime
) -> list[dict[str, Any]]:
    """Revenue orders of these customers placed in ``(placed_after, placed_before]``:
    id, number, customer_id, placed_at, total (for campaign attribution)."""
    if not customer_ids:
        return []
    rows: Any = (
        Order.objects.filter(
            customer_id__in=list(customer_ids),
            status__in=REVENUE_STATUSES,
            placed_at__gt=placed_after,
            placed_at__lte=placed_before,
        )
        .values("id", "number", "customer_id", "placed_at", "total", "currency")
        .order_by("placed_at", "id")
    )
    return list(rows)


# --- API listings (querysets: the views paginate them) ----------------------------------


def product_queryset(
    *,
    category: str = "",
    collection: str = "",
    status: str = "",
    stock_min: int | None = None,
    stock_max: int | None = None,
    search: str = "",
    ordering: str = "sku",
) -> QuerySet[Product]:
    qs = Product.objects.all()
    if category:
        qs = qs.filter(category__iexact=category)
    if collection:
        qs = qs.filter(collection__iexact=collection)
    if status:
        qs = qs.filter(status=status)
    if stock_min is not None:
        qs = qs.filter(stock__gte=stock_min)
    if stock_max is not None:
        qs = qs.filter(stock__lte=stock_max)
    if search:
        qs = qs.filter(Q(name__icontains=search) | Q(sku__icontains=search) | Q(description__icontains=search))
    return qs.order_by(ordering, "id")


def order_queryset(
    *,
    status: str = "",
    customer_email: str = "",
    placed_after: datetime | None = None,
    placed_before: datetime | None = None,
) -> QuerySet[Order]:
    qs = Order.objects.select_related("customer").prefetch_related("items")
    if status:
        qs = qs.filter(status=status)
    if customer_email:
        qs = qs.filter(customer__email=customer_email.lower())
    if placed_after:
        qs = qs.filter(placed_at__gte=placed_after)
    if placed_before:
        qs = qs.filter(placed_at__lt=placed_before)
    return qs.order_by("-placed_at", "-id")


def customer_queryset(*, search: str = "") -> QuerySet[Customer]:
    qs = Customer.objects.all()
    if search:
        qs = qs.filter(Q(email__icontains=search) | Q(first_name__icontains=search) | Q(last_name__icontains=search))
    return qs.order_by("email")


def shop_connection_enabled() -> bool | None:
    """Whether the stored shop connection is enabled; None when none is stored (one query)."""
    return ShopConnection.objects.filter(name="default").values_list("enabled", flat=True).first()
