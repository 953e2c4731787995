"""Sales, customer and demand tools computed from the shop's orders."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

from django.utils import timezone

from agents_app.exceptions import ToolError
from agents_app.tools.base import ToolContext, register
from agents_app.tools.common import LIMIT, PERIOD_SCHEMA, window
from commerce_app import selectors


@register(
    "sales_summary",
    description="Units, revenue and orders over a period, grouped by product, category, collection, day or month.",
    category="analytics",
    schema={
        "properties": {
            **PERIOD_SCHEMA,
            "group_by": {"type": "string", "enum": ["product", "category", "collection", "day", "month"]},
            "limit": LIMIT,
        }
    },
)
def sales_summary(ctx: ToolContext, params: dict[str, Any]) -> dict[str, Any]:
    start, end = window(params)
    group_by = params.get("group_by", "product")
    summary = selectors.sales_summary(start=start, end=end, group_by=group_by, limit=params.get("limit", 50))
    return {"start": start, "end": end, "group_by": group_by, **summary}


@register(
    "top_customers",
    description="Customers ranked by revenue over a period.",
    category="analytics",
    schema={"properties": {**PERIOD_SCHEMA, "limit": {"type": "integer", "minimum": 1, "maximum": 100}}},
)
def top_customers(ctx: ToolContext, params: dict[str, Any]) -> dict[str, Any]:
    start, end = window(params, default_period="year")
    rows = selectors.top_customers(start=start, end=end, limit=params.get("limit", 10))
    return {"start": start, "end": end, "customers": rows}


_SEGMENTS = ("champions", "loyal", "new", "promising", "at_risk", "hibernating")


@register(
    "customer_segments",
    description="Recency/frequency/monetary segmentation of every customer with a paid order: champions, "
    "loyal, new, promising, at risk, hibernating.",
    category="analytics",
    schema={
        "properties": {
            "recent_days": {"type": "integer", "minimum": 7, "maximum": 180},
            "lapsed_days": {"type": "integer", "minimum": 30, "maximum": 730},
            "loyal_orders": {"type": "integer", "minimum": 2, "maximum": 50},
            "include_members": {"type": "boolean"},
        }
    },
)
def customer_segments(ctx: ToolContext, params: dict[str, Any]) -> dict[str, Any]:
    recent, lapsed = params.get("recent_days", 30), params.get("lapsed_days", 180)
    loyal_orders = params.get("loyal_orders", 3)
    if recent >= lapsed:
        raise ToolError("recent_days must be smaller than lapsed_days.")
    now = timezone.now()
    stats = selectors.customer_order_stats(until=now)
    ctx.checkpoint(60)
    segments: dict[str, dict[str, Any]] = {
        name: {"customers": 0, "revenue": Decimal("0.00"), "members": []} for name in _SEGMENTS
    }
    for row in stats:
        days = (now - row["last_order_at"]).days
        orders = row["order_count"]
        if days > lapsed:
            name = "hibernating"
        elif days > lapsed // 2 and orders >= 2:
            name = "at_risk"
        elif days <= recent and orders >= loyal_orders:
            name = "champions"
        elif orders >= loyal_orders:
            name = "loyal"
        elif orders == 1 and days <= recent:
            name = "new"
        else:
            name = "promising"
        segment = segments[name]
        segment["customers"] += 1
        segment["revenue"] += row["revenue"]
        segment["members"].append(row["email"])
    total_revenue = sum((s["revenue"] for s in segments.values()), Decimal("0.00"))
    for segment in segments.values():
        segment["revenue"] = segment["revenue"].quantize(Decimal("0.01"))
        segment["revenue_share_pct"] = (
            (segment["revenue"] * 100 / total_revenue).quantize(Decimal("0.1")) if total_revenue else None
        )
        if not params.get("include_members", False):
            del segment["members"]
    return {
        "as_of": now,
        "rules": {"recent_days": recent, "lapsed_days": lapsed, "loyal_orders": loyal_orders},
        "customers": len(stats),
        "segments": segments,
    }


def _fit_line(values: list[float]) -> tuple[float, float]:
    """Least-squares intercept and slope of ``values`` against 0..n-1."""
    n = len(values)
    mean_x = (n - 1) / 2
    mean_y = sum(values) / n
    var = sum((x - mean_x) ** 2 for x in range(n))
    slope = sum((x - mean_x) * (y - mean_y) for x, y in enumerate(values)) / var if var else 0.0
    return mean_y - slope * mean_x, slope


@register(
    "demand_forecast",
    description="Weekly unit demand for a SKU from its order history (least-squares trend), the forecast for "
    "the next weeks, and how many units to reorder against current stock.",
    category="analytics",
    schema={
        "properties": {
            "sku": {"type": "string", "minLength": 1, "maxLength": 64},
            "history_weeks": {"type": "integer", "minimum": 4, "maximum": 104},
            "horizon_weeks": {"type": "integer", "minimum": 1, "maximum": 26},
        },
        "required": ["sku"],
    },
)
def demand_forecast(ctx: ToolContext, params: dict[str, Any]) -> dict[str, Any]:
    sku = params["sku"]
    product = selectors.products_by_sku([sku]).get(sku)
    if product is None:
        raise ToolError(f"No product with SKU {sku!r}.", details={"sku": sku})
    history_weeks, horizon = params.get("history_weeks", 26), params.get("horizon_weeks", 4)
    # Whole ISO weeks only: the current, partial week would drag the trend down.
    today = timezone.now().astimezone(UTC).date()
    this_monday = today - timedelta(days=today.weekday())
    first_monday = this_monday - timedelta(weeks=history_weeks)
    since = datetime(first_monday.year, first_monday.month, first_monday.day, tzinfo=UTC)
    sold = {week.date(): units for week, units in selectors.weekly_units(sku=sku, since=since)}
    ctx.checkpoint(50)
    weeks = [first_monday + timedelta(weeks=i) for i in range(history_weeks)]
    series = [float(sold.get(week, 0)) for week in weeks]
    intercept, slope = _fit_line(series)
    forecast = [max(0.0, intercept + slope * (history_weeks + i)) for i in range(horizon)]
    expected = sum(forecast)
    return {
        "sku": sku,
        "name": product.name,
        "method": "least-squares linear trend over whole weeks, floored at zero",
        "history": [{"week_start": w.isoformat(), "units": int(u)} for w, u in zip(weeks, series, strict=True)],
        "trend_units_per_week": round(slope, 3),
        "forecast": [
            {"week_start": (this_monday + timedelta(weeks=i)).isoformat(), "units": round(f, 1)}
            for i, f in enumerate(forecast)
        ],
        "expected_units": round(expected, 1),
        "stock": product.stock,
        "reorder_units": max(0, round(expected) - product.stock),
    }


@register(
    "order_lookup",
    description="Orders by order number or by customer e-mail, with their lines and status.",
    category="support",
    schema={
        "properties": {
            "number": {"type": "string", "minLength": 1, "maxLength": 32},
            "email": {"type": "string", "minLength": 3, "maxLength": 254},
            "limit": {"type": "integer", "minimum": 1, "maximum": 50},
        },
        "anyOf": [{"required": ["number"]}, {"required": ["email"]}],
    },
)
def order_lookup(ctx: ToolContext, params: dict[str, Any]) -> dict[str, Any]:
    orders = selectors.order_lookup(
        number=params.get("number", ""), email=params.get("email", ""), limit=params.get("limit", 10)
    )
    return {
        "count": len(orders),
        "orders": [
            {
                "number": o.number,
                "status": o.status,
                "placed_at": o.placed_at,
                "customer": o.customer.email if o.customer else None,
                "total": o.total,
                "currency": o.currency,
                "items": [
                    {"sku": i.sku, "name": i.name, "quantity": i.quantity, "unit_price": i.unit_price}
                    for i in o.items.all()
                ],
            }
            for o in orders
        ],
    }
