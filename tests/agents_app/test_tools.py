"""Tools compute from the shop's real rows; inputs are validated by their schemas."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal
from typing import Any

import pytest
from django.test import override_settings
from django.utils import timezone

from agents_app.exceptions import (
    IntegrationNotConfiguredError,
    LLMNotConfiguredError,
    ToolError,
    ToolInputInvalidError,
)
from agents_app.tools.base import get_tool, validate_input
from commerce_app.models import Customer, Order, OrderItem, OrderStatus, Product

pytestmark = pytest.mark.django_db


class Ctx:
    agent_slug = "test"
    task_id: str | None = None

    def __init__(self) -> None:
        self.progress: list[int] = []

    def checkpoint(self, progress: int) -> None:
        self.progress.append(progress)


def run(name: str, params: dict[str, Any]) -> dict[str, Any]:
    tool = get_tool(name)
    return tool.fn(Ctx(), validate_input(tool, params))


def product(sku: str, *, stock: int, price: str = "50.00", cost: str = "20.00", **kw: Any) -> Product:
    defaults = {"name": sku, "category": "hoodies", "collection": "Signature"} | kw
    return Product.objects.create(sku=sku, stock=stock, price=Decimal(price), cost=Decimal(cost), **defaults)


def order(
    number: str,
    customer: Customer | None,
    lines: list[tuple[Product, int]],
    *,
    days_ago: int,
    status: str = OrderStatus.COMPLETED,
) -> Order:
    subtotal = sum((p.price * q for p, q in lines), Decimal("0"))
    o = Order.objects.create(
        number=number,
        customer=customer,
        status=status,
        subtotal=subtotal,
        total=subtotal,
        placed_at=timezone.now() - timedelta(days=days_ago),
    )
    for p, q in lines:
        OrderItem.objects.create(order=o, product=p, sku=p.sku, name=p.name, quantity=q, unit_price=p.price)
    return o


def test_low_stock_report_honours_the_threshold_and_reports_days_of_cover() -> None:
    empty = product("A-1", stock=0)
    low = product("A-2", stock=4)
    product("A-3", stock=50)
    product("A-4", stock=1, status="archived")
    order("N1", None, [(low, 3)], days_ago=5)
    result = run("low_stock_report", {"threshold": 4})
    assert [i["sku"] for i in result["items"]] == [empty.sku, low.sku]
    assert result["items"][1]["units_sold_30d"] == 3
    assert result["items"][1]["days_of_cover"] == Decimal("40.0")  # 4 units / (3 units / 30 days)
    assert result["items"][0]["days_of_cover"] is None  # nothing sold: cover is not a number
    assert [i["sku"] for i in run("low_stock_report", {"threshold": 0})["items"]] == [empty.sku]


def test_low_stock_report_counts_paid_sales_in_the_window_and_filters_by_collection() -> None:
    a = product("L-1", stock=2, collection="Black Rose")
    b = product("L-2", stock=2, collection="Signature")
    c = product("L-3", stock=1, collection="black rose", compare_at_price=Decimal("80.00"))
    product("L-4", stock=3, collection="Black Rose", status="draft")
    order("N1", None, [(a, 2), (b, 5)], days_ago=3)
    order("N2", None, [(a, 1)], days_ago=9, status=OrderStatus.PROCESSING)
    order("N3", None, [(a, 7)], days_ago=2, status=OrderStatus.CANCELLED)  # not a sale
    order("N4", None, [(a, 11)], days_ago=20)  # outside a 10-day window
    result = run("low_stock_report", {"threshold": 3, "sales_window_days": 10})
    assert [(i["sku"], i["units_sold_10d"]) for i in result["items"]] == [("L-3", 0), ("L-1", 3), ("L-2", 5)]
    assert result["items"][0] == {
        "sku": "L-3",
        "name": "L-3",
        "category": "hoodies",
        "collection": "black rose",
        "price": Decimal("50.00"),
        "compare_at_price": Decimal("80.00"),
        "currency": c.currency,
        "stock": 1,
        "status": "active",
        "units_sold_10d": 0,
        "days_of_cover": None,
    }
    assert result["items"][1]["days_of_cover"] == Decimal("6.7")  # 2 units / (3 units / 10 days)
    rose = run("low_stock_report", {"threshold": 3, "collection": "BLACK ROSE", "limit": 1})
    assert [i["sku"] for i in rose["items"]] == ["L-3"]  # emptiest first, then by SKU
    assert [i["sku"] for i in run("low_stock_report", {"threshold": 3, "collection": "black rose"})["items"]] == [
        "L-3",
        "L-1",
    ]
    assert run("low_stock_report", {"threshold": 3, "collection": "Nowhere"})["count"] == 0


def test_sales_summary_groups_revenue_and_ignores_unpaid_orders() -> None:
    hoodie = product("H-1", stock=9, price="100.00", collection="Black Rose")
    tee = product("T-1", stock=9, price="30.00", category="t-shirts", collection="Signature")
    order("N1", None, [(hoodie, 2), (tee, 1)], days_ago=3)
    order("N2", None, [(tee, 3)], days_ago=10)
    order("N3", None, [(hoodie, 5)], days_ago=4, status=OrderStatus.CANCELLED)
    order("N4", None, [(hoodie, 1)], days_ago=200)
    by_collection = run("sales_summary", {"period": "month", "group_by": "collection"})
    assert [(r["key"], r["units"], r["revenue"], r["orders"]) for r in by_collection["rows"]] == [
        ("Black Rose", 2, Decimal("200.00"), 1),
        ("Signature", 4, Decimal("120.00"), 2),
    ]
    assert by_collection["totals"] == {"units": 6, "revenue": Decimal("320.00"), "orders": 2}
    by_product = run("sales_summary", {"period": "year", "group_by": "product"})
    assert by_product["rows"][0] == {"key": "H-1", "name": "H-1", "units": 3, "revenue": Decimal("300.00"), "orders": 2}


def test_top_customers_rank_by_revenue_in_the_window() -> None:
    p = product("P-1", stock=5, price="10.00")
    ann = Customer.objects.create(email="ann@example.com")
    ben = Customer.objects.create(email="ben@example.com")
    order("N1", ann, [(p, 1)], days_ago=2)
    order("N2", ben, [(p, 5)], days_ago=2)
    order("N3", ann, [(p, 9)], days_ago=400)
    rows = run("top_customers", {"period": "year"})["customers"]
    assert [(r["email"], r["orders"], r["revenue"]) for r in rows] == [
        ("ben@example.com", 1, Decimal("50.00")),
        ("ann@example.com", 1, Decimal("10.00")),
    ]


def test_demand_forecast_follows_the_trend_and_suggests_a_reorder() -> None:
    p = product("F-1", stock=5)
    for week in range(1, 9):  # sales growing by one unit a week, most recent week highest
        order(f"W{week}", None, [(p, 9 - week)], days_ago=week * 7)
    result = run("demand_forecast", {"sku": "F-1", "history_weeks": 8, "horizon_weeks": 2})
    assert result["trend_units_per_week"] > 0.5
    assert result["expected_units"] > 8
    assert result["reorder_units"] == max(0, round(result["expected_units"]) - 5)
    with pytest.raises(ToolError):
        run("demand_forecast", {"sku": "NOPE"})


def test_schema_errors_name_each_bad_field() -> None:
    tool = get_tool("low_stock_report")
    with pytest.raises(ToolInputInvalidError) as error:
        validate_input(tool, {"threshold": -1, "surprise": True})
    paths = {e["path"] for e in error.value.details["errors"]}
    assert paths == {"/", "/threshold"}


def test_llm_action_fails_fast_without_a_provider() -> None:
    with pytest.raises(LLMNotConfiguredError, match="no LLM provider configured"):
        run("llm_complete", {"prompt": "Write a tagline"})


@override_settings(TRIPO_API_KEY="", FASHN_API_KEY="configured-key", ENABLE_3D_GENERATION=False)
def test_unconfigured_or_switched_off_integrations_fail_fast() -> None:
    with pytest.raises(IntegrationNotConfiguredError):
        run("generate_3d_model", {"prompt": "a hoodie"})
    with pytest.raises(IntegrationNotConfiguredError):  # the key is set, but 3D generation is off
        run("virtual_tryon", {"model_image_url": "https://x.test/m.png", "garment_image_url": "https://x.test/g.png"})
    with pytest.raises(IntegrationNotConfiguredError):
        run("woocommerce_sync", {"entity": "products"})
