"""Catalog and inventory tools over the shop's local data (commerce_app selectors)."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal
from typing import Any

from django.utils import timezone

from agents_app.exceptions import ToolError
from agents_app.tools.base import ToolContext, register
from agents_app.tools.common import LIMIT, NAME_FILTER, pct, product_row
from commerce_app import selectors, services
from commerce_app.models import OutboxEntry, OutboxStatus, Product, ProductStatus
from commerce_app.pricing import STRATEGIES, price_optimize


@register(
    "catalog_search",
    description="Search products by text (name, SKU, description) and filters.",
    category="commerce",
    schema={
        "properties": {
            "query": {"type": "string", "maxLength": 200},
            "category": NAME_FILTER,
            "collection": NAME_FILTER,
            "status": {"type": "string", "enum": ["active", "draft", "archived", "any"]},
            "in_stock": {"type": "boolean"},
            "min_price": {"type": "number", "minimum": 0},
            "max_price": {"type": "number", "minimum": 0},
            "limit": LIMIT,
        }
    },
)
def catalog_search(ctx: ToolContext, params: dict[str, Any]) -> dict[str, Any]:
    status = params.get("status", ProductStatus.ACTIVE)
    products = selectors.product_search(
        query=params.get("query", ""),
        category=params.get("category", ""),
        collection=params.get("collection", ""),
        status=None if status == "any" else status,
        in_stock=params.get("in_stock"),
        min_price=Decimal(str(params["min_price"])) if "min_price" in params else None,
        max_price=Decimal(str(params["max_price"])) if "max_price" in params else None,
        limit=params.get("limit", 20),
    )
    return {"count": len(products), "products": [product_row(p) for p in products]}


@register(
    "product_lookup",
    description="One product by SKU with its margin and units sold in the last 30 and 90 days.",
    category="commerce",
    schema={"properties": {"sku": {"type": "string", "minLength": 1, "maxLength": 64}}, "required": ["sku"]},
)
def product_lookup(ctx: ToolContext, params: dict[str, Any]) -> dict[str, Any]:
    product = selectors.products_by_sku([params["sku"]]).get(params["sku"])
    if product is None:
        raise ToolError(f"No product with SKU {params['sku']!r}.", details={"sku": params["sku"]})
    now = timezone.now()
    sold_30 = selectors.units_sold_by_sku(since=now - timedelta(days=30), skus=[product.sku]).get(product.sku, 0)
    sold_90 = selectors.units_sold_by_sku(since=now - timedelta(days=90), skus=[product.sku]).get(product.sku, 0)
    return {
        **product_row(product),
        "description": product.description,
        "cost": product.cost,
        "margin_pct": pct(product.price - product.cost, product.price),
        "images": product.images,
        "woocommerce_id": product.woocommerce_id,
        "sync_state": product.sync_state,
        "units_sold_30d": sold_30,
        "units_sold_90d": sold_90,
    }


@register(
    "stock_query",
    description="Current stock of given SKUs, or of every active product of a collection.",
    category="commerce",
    schema={
        "properties": {
            "skus": {
                "type": "array",
                "items": {"type": "string", "minLength": 1, "maxLength": 64},
                "minItems": 1,
                "maxItems": 100,
                "uniqueItems": True,
            },
            "collection": NAME_FILTER,
        },
        "anyOf": [{"required": ["skus"]}, {"required": ["collection"]}],
    },
)
def stock_query(ctx: ToolContext, params: dict[str, Any]) -> dict[str, Any]:
    if "skus" in params:
        found = selectors.products_by_sku(params["skus"])
        products = [found[sku] for sku in params["skus"] if sku in found]
        missing = [sku for sku in params["skus"] if sku not in found]
    else:
        products = selectors.product_search(collection=params["collection"], limit=500)
        missing = []
    items = [{"sku": p.sku, "name": p.name, "stock": p.stock, "status": p.status} for p in products]
    return {"items": items, "missing": missing, "total_units": sum(p.stock for p in products)}


@register(
    "low_stock_report",
    description="Active products at or below a stock threshold, with recent sales and days of cover.",
    category="commerce",
    schema={
        "properties": {
            "threshold": {"type": "integer", "minimum": 0, "maximum": 100000},
            "collection": NAME_FILTER,
            "sales_window_days": {"type": "integer", "minimum": 1, "maximum": 365},
            "limit": LIMIT,
        }
    },
)
def low_stock_report(ctx: ToolContext, params: dict[str, Any]) -> dict[str, Any]:
    threshold = params.get("threshold", 5)
    days = params.get("sales_window_days", 30)
    # One statement: products and their sales (PERF P5), so no checkpoint in between.
    rows = selectors.low_stock_with_sales(
        threshold=threshold,
        since=timezone.now() - timedelta(days=days),
        collection=params.get("collection", ""),
        limit=params.get("limit", 100),
    )
    items = []
    for p, units in rows:
        daily = Decimal(units) / days
        items.append(
            {
                **product_row(p),
                f"units_sold_{days}d": units,
                # None when nothing sold: cover is unbounded, not a number we can state.
                "days_of_cover": (Decimal(p.stock) / daily).quantize(Decimal("0.1")) if daily else None,
            }
        )
    return {"threshold": threshold, "sales_window_days": days, "count": len(items), "items": items}


@register(
    "inventory_valuation",
    description="Units on hand valued at cost and at retail price, per collection.",
    category="commerce",
    schema={"properties": {"collection": NAME_FILTER}},
)
def inventory_valuation(ctx: ToolContext, params: dict[str, Any]) -> dict[str, Any]:
    rows = selectors.inventory_value(collection=params.get("collection", ""))
    return {
        "collections": rows,
        "totals": {
            "units": sum(r["units"] for r in rows),
            "cost_value": sum((r["cost_value"] for r in rows), Decimal("0.00")),
            "retail_value": sum((r["retail_value"] for r in rows), Decimal("0.00")),
        },
    }


@register(
    "margin_report",
    description="Gross margin per active product (price vs unit cost), lowest first; optional minimum filter.",
    category="commerce",
    schema={
        "properties": {
            "collection": NAME_FILTER,
            "category": NAME_FILTER,
            "below_margin_pct": {"type": "number", "minimum": 0, "maximum": 100},
            "limit": LIMIT,
        }
    },
)
def margin_report(ctx: ToolContext, params: dict[str, Any]) -> dict[str, Any]:
    products = selectors.product_search(
        category=params.get("category", ""), collection=params.get("collection", ""), limit=1000
    )
    rows = []
    for p in products:
        margin = pct(p.price - p.cost, p.price)
        if "below_margin_pct" in params and (margin is None or margin >= Decimal(str(params["below_margin_pct"]))):
            continue
        rows.append({"sku": p.sku, "name": p.name, "price": p.price, "cost": p.cost, "margin_pct": margin})
    rows.sort(key=lambda r: (r["margin_pct"] if r["margin_pct"] is not None else Decimal(-1), r["sku"]))
    return {"count": len(rows), "products": rows[: params.get("limit", 50)]}


@register(
    "slow_movers",
    description="In-stock active products that sold at most N units in the last D days (markdown candidates).",
    category="commerce",
    schema={
        "properties": {
            "days": {"type": "integer", "minimum": 7, "maximum": 365},
            "max_units": {"type": "integer", "minimum": 0, "maximum": 10000},
            "limit": LIMIT,
        }
    },
)
def slow_movers(ctx: ToolContext, params: dict[str, Any]) -> dict[str, Any]:
    days, max_units = params.get("days", 90), params.get("max_units", 2)
    products = list(Product.objects.filter(status=ProductStatus.ACTIVE, stock__gt=0).order_by("sku"))
    sold = selectors.units_sold_by_sku(since=timezone.now() - timedelta(days=days))
    rows = [
        {**product_row(p), f"units_sold_{days}d": sold.get(p.sku, 0), "stock_value_at_cost": p.cost * p.stock}
        for p in products
        if sold.get(p.sku, 0) <= max_units
    ]
    rows.sort(key=lambda r: (-r["stock_value_at_cost"], r["sku"]))
    return {"days": days, "max_units": max_units, "count": len(rows), "products": rows[: params.get("limit", 50)]}


@register(
    "catalog_health",
    description="Catalog data problems: price below cost, no image, no description, bad compare-at price, "
    "archived items still holding stock.",
    category="operations",
    schema={"properties": {"limit": LIMIT}},
)
def catalog_health(ctx: ToolContext, params: dict[str, Any]) -> dict[str, Any]:
    problems: list[dict[str, Any]] = []
    for p in Product.objects.order_by("sku"):
        found = []
        if p.price < p.cost:
            found.append("price_below_cost")
        if not p.images:
            found.append("no_image")
        if not p.description.strip():
            found.append("no_description")
        if p.compare_at_price is not None and p.compare_at_price <= p.price:
            found.append("compare_at_not_above_price")
        if p.status == ProductStatus.ARCHIVED and p.stock > 0:
            found.append("archived_with_stock")
        if found:
            problems.append({"sku": p.sku, "name": p.name, "problems": found})
    return {"products_with_problems": len(problems), "items": problems[: params.get("limit", 100)]}


@register(
    "stock_update",
    description="Set a product's stock (or change it by a delta); shop-linked products are pushed through the outbox.",
    category="commerce",
    schema={
        "properties": {
            "sku": {"type": "string", "minLength": 1, "maxLength": 64},
            "stock": {"type": "integer", "minimum": 0, "maximum": 10_000_000},
            "delta": {"type": "integer", "minimum": -10_000_000, "maximum": 10_000_000},
        },
        "required": ["sku"],
        "oneOf": [{"required": ["stock"]}, {"required": ["delta"]}],
    },
)
def stock_update(ctx: ToolContext, params: dict[str, Any]) -> dict[str, Any]:
    product = selectors.products_by_sku([params["sku"]]).get(params["sku"])
    if product is None:
        raise ToolError(f"No product with SKU {params['sku']!r}.", details={"sku": params["sku"]})
    before = product.stock
    new_stock = params["stock"] if "stock" in params else before + params["delta"]
    if new_stock < 0:
        raise ToolError(
            f"Stock of {product.sku} would become {new_stock}; stock cannot be negative.",
            details={"sku": product.sku, "stock": before, "delta": params.get("delta")},
        )
    updated = services.product_update(
        product=product,
        data={"stock": new_stock},
        agent_task_id=ctx.task_id or "",
        actor_label=f"agent:{ctx.agent_slug}",
    )
    pending = OutboxEntry.objects.filter(product=updated, status=OutboxStatus.PENDING).count()
    return {
        "sku": updated.sku,
        "stock_before": before,
        "stock": updated.stock,
        "sync_state": updated.sync_state,
        "outbox_pending": pending,
    }


@register(
    "price_optimization",
    description="Recommend prices from cost, stock and order history (elasticity model) under margin and "
    "discount constraints; optionally apply them (pushed to the shop through the outbox).",
    category="commerce",
    schema={
        "properties": {
            "skus": {
                "type": "array",
                "items": {"type": "string", "minLength": 1, "maxLength": 64},
                "minItems": 1,
                "maxItems": 100,
                "uniqueItems": True,
            },
            "strategy": {"type": "string", "enum": list(STRATEGIES)},
            "min_margin": {"type": "number", "minimum": 0, "maximum": 0.99},
            "max_discount": {"type": "number", "minimum": 0, "maximum": 0.9},
            "apply": {"type": "boolean"},
        },
        "required": ["skus", "strategy"],
    },
)
def price_optimization(ctx: ToolContext, params: dict[str, Any]) -> dict[str, Any]:
    found = selectors.products_by_sku(params["skus"])
    missing = [sku for sku in params["skus"] if sku not in found]
    result = price_optimize(
        product_ids=[found[sku].pk for sku in params["skus"] if sku in found],
        strategy=params["strategy"],
        min_margin=Decimal(str(params.get("min_margin", 0))),
        max_discount=Decimal(str(params.get("max_discount", 0.3))),
    )
    ctx.checkpoint(60)
    applied = []
    if params.get("apply"):
        by_id = {p.pk: p for p in found.values()}
        for row in result["results"]:
            if row["recommended_price"] != row["current_price"]:
                services.product_update(
                    product=by_id[row["product_id"]],
                    data={"price": row["recommended_price"]},
                    agent_task_id=ctx.task_id or "",
                    actor_label=f"agent:{ctx.agent_slug}",
                )
                applied.append(row["sku"])
    return {**result, "missing_skus": missing, "applied": applied}
