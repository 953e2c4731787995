"""Commerce REST endpoints: products CRUD and bulk, pricing, low stock, orders and customers."""

from __future__ import annotations

from datetime import timedelta
from decimal import ROUND_CEILING, Decimal

import pytest
from django.utils import timezone
from rest_framework.test import APIClient

from commerce_app.models import Customer, Order, OrderItem, OrderStatus, OutboxEntry, Product, SyncState
from commerce_app.services import demo_shop_seed
from devskyy.core import catalog_changes
from devskyy.core.models import AuditLog
from devskyy.core.roles import Role
from tests.support.auth import access_token, bearer, make_user

pytestmark = pytest.mark.django_db
BASE = "/api/v1/commerce"


@pytest.fixture
def api() -> APIClient:
    client = APIClient()
    client.credentials(**bearer(access_token(make_user(Role.OPERATOR))))
    return client


def make_product(sku: str, **fields) -> Product:
    values = {"name": sku, "price": Decimal("50.00"), "cost": Decimal("20.00"), "category": "hoodies", "stock": 10}
    values.update(fields)
    return Product.objects.create(sku=sku, **values)


# --- products --------------------------------------------------------------------------


def test_products_are_filtered_searched_ordered_and_paginated(api):
    for n in range(8):
        make_product(f"SIG-{n}", stock=n, collection="Signature" if n % 2 else "Black Rose", price=Decimal(10 + n))
    make_product("TEE-1", category="t-shirts", name="Rose tee", stock=3)

    page = api.get(
        f"{BASE}/products", {"collection": "signature", "stock_min": 2, "stock_max": 6, "ordering": "-price"}
    )
    assert page.status_code == 200
    assert [p["sku"] for p in page.json()["results"]] == ["SIG-5", "SIG-3"]
    assert page.json()["count"] == 2
    assert [p["sku"] for p in api.get(f"{BASE}/products", {"search": "rose"}).json()["results"]] == ["TEE-1"]
    assert api.get(f"{BASE}/products", {"category": "t-shirts"}).json()["count"] == 1
    limited = api.get(f"{BASE}/products", {"limit": 3, "offset": 3, "ordering": "sku"}).json()
    assert [p["sku"] for p in limited["results"]] == ["SIG-3", "SIG-4", "SIG-5"]
    assert limited["results"][0]["price"] == "13.00"


def test_bad_product_filters_are_400_and_name_the_field(api):
    response = api.get(f"{BASE}/products", {"ordering": "secret"})
    assert response.status_code == 400
    assert set(response.json()["error"]["details"]) == {"ordering"}
    inverted = api.get(f"{BASE}/products", {"stock_min": 5, "stock_max": 1})
    assert inverted.status_code == 400
    assert set(inverted.json()["error"]["details"]) == {"stock_max"}


def test_the_product_list_query_count_does_not_grow_with_rows(api, django_assert_num_queries):
    for n in range(30):
        make_product(f"Q-{n}")
    # auth (logout check, user, roles), count, page
    with django_assert_num_queries(5):
        assert len(api.get(f"{BASE}/products", {"limit": 30}).json()["results"]) == 30


def test_create_update_and_delete_a_local_product_are_audited_and_announced(api):
    seen: list[list[int]] = []
    catalog_changes.on_products_changed(seen.append)
    created = api.post(
        f"{BASE}/products",
        {"sku": "NEW-1", "name": "New hoodie", "price": "80.00", "cost": "30.00", "category": "hoodies"},
        format="json",
    )
    assert created.status_code == 201
    pid = created.json()["id"]
    updated = api.patch(f"{BASE}/products/{pid}", {"price": "75.50", "stock": 4}, format="json")
    assert updated.status_code == 200
    assert updated.json()["price"] == "75.50"
    assert OutboxEntry.objects.count() == 0  # not linked to the shop: nothing to push
    assert api.delete(f"{BASE}/products/{pid}").status_code == 204
    actions = list(AuditLog.objects.filter(target_type="product").values_list("action", flat=True).order_by("id"))
    assert actions == ["commerce.product.created", "commerce.product.updated", "commerce.product.deleted"]
    assert api.get(f"{BASE}/products/{pid}").status_code == 404


def test_bad_product_writes_are_refused_and_change_nothing(api):
    make_product("DUP-1")
    assert (
        api.post(
            f"{BASE}/products", {"sku": "DUP-1", "name": "x", "price": "1", "category": "c"}, format="json"
        ).status_code
        == 409
    )
    negative = api.post(f"{BASE}/products", {"sku": "NEG", "name": "x", "price": "-1", "category": "c"}, format="json")
    assert negative.status_code == 400
    assert "price" in negative.json()["error"]["details"]
    pid = Product.objects.get(sku="DUP-1").pk
    assert api.patch(f"{BASE}/products/{pid}", {"stock": -3}, format="json").status_code == 400
    assert Product.objects.get(pk=pid).stock == 10
    assert not Product.objects.filter(sku="NEG").exists()


def test_changing_a_shop_linked_product_queues_an_outbox_entry_and_deleting_it_is_refused(api):
    linked = make_product("LINK-1", woocommerce_id=501, sync_state=SyncState.SYNCED)
    response = api.patch(f"{BASE}/products/{linked.pk}", {"price": "42.00", "name": "Renamed"}, format="json")
    assert response.json()["sync_state"] == "pending_push"
    entry = OutboxEntry.objects.get()
    assert entry.change == {"price": "42.00"}
    assert entry.woocommerce_id == 501
    refused = api.delete(f"{BASE}/products/{linked.pk}")
    assert refused.status_code == 409
    assert refused.json()["error"]["code"] == "product_linked_to_shop"


def test_read_only_users_can_read_but_not_write_products():
    client = APIClient()
    client.credentials(**bearer(access_token(make_user(Role.READ_ONLY))))
    make_product("RO-1")
    assert client.get(f"{BASE}/products").status_code == 200
    assert client.post(f"{BASE}/products", {"sku": "RO-2"}, format="json").status_code == 403


# --- bulk ------------------------------------------------------------------------------


def test_bulk_create_of_100_mixed_items_writes_exactly_the_valid_ones(api):
    make_product("TAKEN")
    items = []
    for n in range(100):
        item = {"sku": f"BULK-{n:03d}", "name": f"Bulk {n}", "price": "25.00", "category": "tees", "stock": n}
        if n % 10 == 3:
            item["price"] = "-5"  # invalid price
        elif n % 10 == 7:
            del item["name"]  # missing field
        elif n == 50:
            item["sku"] = "TAKEN"  # conflicts with an existing product
        elif n == 61:
            item["sku"] = "BULK-060"  # duplicate of an earlier item in the same request
        items.append(item)

    response = api.post(f"{BASE}/products/bulk", {"action": "create", "products": items}, format="json")

    assert response.status_code == 200
    body = response.json()
    results = body["results"]
    assert [r["index"] for r in results] == list(range(100))
    bad = {r["index"] for r in results if r["status"] == "error"}
    expected_bad = {n for n in range(100) if n % 10 in (3, 7)} | {50, 61}
    assert bad == expected_bad
    assert body["failed"] == len(expected_bad)
    assert body["succeeded"] == 100 - len(expected_bad)
    assert "price" in results[3]["error"]
    assert results[50]["error"]["code"] == "sku_taken"
    written = set(Product.objects.filter(sku__startswith="BULK-").values_list("sku", flat=True))
    assert written == {f"BULK-{n:03d}" for n in range(100) if n not in expected_bad}


def test_bulk_validate_only_writes_nothing_and_update_and_delete_report_per_item(api):
    make_product("U-1")
    make_product("U-2")
    make_product("LINKED", woocommerce_id=77)
    check = api.post(
        f"{BASE}/products/bulk",
        {"action": "update", "validate_only": True, "products": [{"sku": "U-1", "price": "9.00"}, {"sku": "NOPE"}]},
        format="json",
    ).json()
    assert [r["status"] for r in check["results"]] == ["valid", "error"]
    assert Product.objects.get(sku="U-1").price == Decimal("50.00")
    updated = api.post(
        f"{BASE}/products/bulk",
        {"action": "update", "products": [{"sku": "U-1", "price": "9.00"}, {"sku": "U-2", "stock": -1}]},
        format="json",
    ).json()
    assert [r["status"] for r in updated["results"]] == ["updated", "error"]
    assert Product.objects.get(sku="U-1").price == Decimal("9.00")
    deleted = api.post(
        f"{BASE}/products/bulk", {"action": "delete", "products": [{"sku": "U-2"}, {"sku": "LINKED"}]}, format="json"
    ).json()
    assert [r["status"] for r in deleted["results"]] == ["deleted", "error"]
    assert set(Product.objects.values_list("sku", flat=True)) == {"U-1", "LINKED"}


@pytest.mark.parametrize(
    "body",
    [
        {"action": "create", "products": []},
        {"action": "explode", "products": [{}]},
        {"action": "create", "products": [{}] * 101},
    ],
)
def test_bulk_requests_out_of_bounds_are_400(api, body):
    assert api.post(f"{BASE}/products/bulk", body, format="json").status_code == 400


# --- pricing ---------------------------------------------------------------------------


def _check_constraints(result: dict, min_margin: Decimal, max_discount: Decimal) -> None:
    price, cost, current = (Decimal(result[k]) for k in ("recommended_price", "cost", "current_price"))
    assert price >= (current * (1 - max_discount)).quantize(Decimal("0.01"), rounding=ROUND_CEILING)
    if cost > 0:
        assert (price - cost) / price >= min_margin
    assert 0 <= result["confidence"] <= 1


@pytest.mark.parametrize("strategy", ["competitive", "demand_based", "ml_optimized", "time_based"])
def test_pricing_respects_the_constraints_for_every_product(api, strategy):
    demo_shop_seed()
    ids = list(Product.objects.order_by("id").values_list("id", flat=True)[:60])
    body = {
        "product_ids": [*ids, 999999],
        "strategy": strategy,
        "constraints": {"min_margin": "0.55", "max_discount": "0.1"},
    }

    response = api.post(f"{BASE}/pricing/optimize", body, format="json")

    assert response.status_code == 200
    data = response.json()
    assert data["unknown_product_ids"] == [999999]
    assert len(data["results"]) == 60
    for result in data["results"]:
        _check_constraints(result, Decimal("0.55"), Decimal("0.1"))


def test_the_recommendation_follows_the_order_history(api):
    product = make_product("ELASTIC", price=Decimal("100.00"), cost=Decimal("40.00"), stock=500)
    make_product("PEER", price=Decimal("90.00"), cost=Decimal("30.00"))
    body = {
        "product_ids": [product.pk],
        "strategy": "ml_optimized",
        "constraints": {"min_margin": "0.2", "max_discount": "0.5"},
    }
    before = api.post(f"{BASE}/pricing/optimize", body, format="json").json()["results"][0]
    assert before["weeks_with_sales"] == 0

    # Twelve weeks of sales where a 20% lower price sold far more: strongly elastic demand.
    now = timezone.now()
    for week in range(12):
        price, units = (Decimal("80.00"), 30) if week % 2 else (Decimal("100.00"), 6)
        order = Order.objects.create(
            number=f"H-{week}",
            status=OrderStatus.COMPLETED,
            subtotal=price * units,
            total=price * units,
            placed_at=now - timedelta(weeks=week, days=1),
        )
        OrderItem.objects.create(order=order, product=product, sku=product.sku, quantity=units, unit_price=price)

    after = api.post(f"{BASE}/pricing/optimize", body, format="json").json()["results"][0]

    assert after["weeks_with_sales"] == 12
    assert after["elasticity"] < before["elasticity"] - 1
    assert Decimal(after["recommended_price"]) < Decimal(before["recommended_price"])
    assert after["confidence"] > before["confidence"]
    _check_constraints(after, Decimal("0.2"), Decimal("0.5"))


@pytest.mark.parametrize(
    "body",
    [
        {"product_ids": [], "strategy": "ml_optimized"},
        {"product_ids": [1], "strategy": "astrology"},
        {"product_ids": [1], "strategy": "competitive", "constraints": {"min_margin": "1.5"}},
        {"product_ids": [1], "strategy": "competitive", "constraints": {"max_discount": "0.95"}},
    ],
)
def test_bad_pricing_requests_are_400(api, body):
    assert api.post(f"{BASE}/pricing/optimize", body, format="json").status_code == 400


# --- inventory, orders, customers ------------------------------------------------------


def test_low_stock_lists_active_products_at_or_under_the_threshold(api):
    make_product("LOW-1", stock=1)
    make_product("LOW-0", stock=0)
    make_product("FULL", stock=50)
    make_product("ARCH", stock=0, status="archived")
    data = api.get(f"{BASE}/inventory/low-stock", {"threshold": 2}).json()
    assert [i["sku"] for i in data["items"]] == ["LOW-0", "LOW-1"]
    assert api.get(f"{BASE}/inventory/low-stock", {"threshold": -1}).status_code == 400


def test_orders_and_customers_are_readable_in_constant_queries(api, django_assert_num_queries):
    customer = Customer.objects.create(email="nia@example.com", first_name="Nia")
    product = make_product("ORD-1")
    for n in range(5):
        order = Order.objects.create(
            number=f"O-{n}",
            customer=customer,
            status=OrderStatus.COMPLETED,
            subtotal=Decimal("50.00"),
            total=Decimal("50.00"),
            placed_at=timezone.now() - timedelta(days=n),
        )
        OrderItem.objects.create(order=order, product=product, sku="ORD-1", quantity=1, unit_price=Decimal("50.00"))
    with django_assert_num_queries(6):  # auth x3, count, orders + customer, items
        orders = api.get(f"{BASE}/orders").json()
    assert [o["number"] for o in orders["results"]] == [f"O-{n}" for n in range(5)]
    assert orders["results"][0]["customer_email"] == "nia@example.com"
    assert orders["results"][0]["items"][0]["sku"] == "ORD-1"
    order_id = orders["results"][0]["id"]
    assert api.get(f"{BASE}/orders/{order_id}").json()["number"] == "O-0"
    assert api.get(f"{BASE}/orders", {"customer_email": "nobody@example.com"}).json()["count"] == 0
    customers = api.get(f"{BASE}/customers", {"search": "nia"}).json()
    assert customers["results"][0]["email"] == "nia@example.com"
    assert api.get(f"{BASE}/customers/{customer.pk}").status_code == 200
    assert api.get(f"{BASE}/customers/999999").status_code == 404
