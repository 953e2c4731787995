"""Sync with a local WooCommerce-compatible shop over loopback: import, push, conflicts."""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
from django.db import connection as db_connection

from commerce_app.models import (
    Customer,
    Order,
    OutboxEntry,
    OutboxStatus,
    Product,
    ShopConnection,
    SyncState,
)
from commerce_app.outbox import PushFailedError, outbox_push
from commerce_app.services import product_update
from commerce_app.sync import SyncFailedError, shop_sync
from commerce_app.woocommerce import IDEMPOTENCY_META_KEY
from tests.commerce_app.conftest import client_for

T0 = datetime(2024, 1, 1, tzinfo=UTC)


def _line(product: dict, quantity: int = 1) -> dict:
    return {
        "id": product["id"] * 10,
        "name": product["name"],
        "product_id": product["id"],
        "variation_id": 0,
        "quantity": quantity,
        "subtotal": str(Decimal(product["regular_price"]) * quantity),
        "total": str(Decimal(product["regular_price"]) * quantity),
        "sku": product["sku"],
        "price": product["regular_price"],
    }


def test_a_full_import_brings_products_variations_customers_and_orders(connected, shop):
    made = shop.seed_products(250, start=T0)
    hoodie = shop.add_product(name="Black Rose Hoodie", regular_price="120.00", sale_price="", modified=T0)
    small = shop.add_variation(hoodie["id"], regular_price="120.00", attributes=[{"name": "Size", "option": "S"}])
    large = shop.add_variation(hoodie["id"], regular_price="125.00", attributes=[{"name": "Size", "option": "L"}])
    buyer = shop.add_customer(email="Ava@Example.com", first_name="Ava")
    shop.add_order(customer_id=buyer["id"], status="completed", total="30.00", line_items=[_line(made[3], 2)])

    report = shop_sync(full=True)

    assert report.entities["products"].created == 251 + 2
    assert Product.objects.filter(woocommerce_id__isnull=False).count() == 253
    parent = Product.objects.get(woocommerce_id=hoodie["id"])
    variations = {p.woocommerce_id: p for p in parent.variations.all()}
    assert set(variations) == {small["id"], large["id"]}
    assert variations[large["id"]].price == Decimal("125.00")
    assert variations[small["id"]].attributes == {"Size": "S"}
    imported = Product.objects.get(woocommerce_id=made[7]["id"])
    assert imported.price == Decimal(made[7]["regular_price"])
    assert imported.stock == made[7]["stock_quantity"]
    assert imported.sync_state == SyncState.SYNCED
    assert Customer.objects.get(email="ava@example.com").woocommerce_id == buyer["id"]
    order = Order.objects.get()
    assert order.customer is not None
    assert order.customer.email == "ava@example.com"
    (item,) = order.items.all()
    assert item.product == Product.objects.get(woocommerce_id=made[3]["id"])
    assert item.quantity == 2
    conn = ShopConnection.objects.get()
    assert conn.products_cursor is not None
    assert conn.last_full_sync_at is not None
    assert conn.sync_lock_until is None
    assert conn.last_sync_report["entities"]["products"]["created"] == 253


def test_re_importing_the_same_shop_writes_nothing(connected, shop):
    shop.seed_products(120, start=T0)
    shop_sync(full=True)
    before = dict(Product.objects.values_list("sku", "updated_at"))

    again = shop_sync(full=True)

    assert again.entities["products"].created == 0
    assert again.entities["products"].updated == 0
    assert again.entities["products"].unchanged == 120
    assert dict(Product.objects.values_list("sku", "updated_at")) == before


def test_an_incremental_import_asks_only_for_changes_after_the_cursor(connected, shop):
    made = shop.seed_products(30, start=T0)
    shop_sync(full=True)
    cursor = ShopConnection.objects.get().products_cursor
    assert cursor is not None
    with client_for(shop) as woo:
        woo.update_product(made[5]["id"], {"regular_price": "77.70"})
    shop.clear_requests()

    report = shop_sync(entities=["products"])

    listing = [r for r in shop.requests if r.path == "products"]
    assert listing[0].param("modified_after") == (cursor - timedelta(seconds=1)).strftime("%Y-%m-%dT%H:%M:%S")
    products = report.entities["products"]
    # The changed product, plus the one modified in the overlap second at the cursor.
    assert (products.fetched, products.updated, products.unchanged) == (2, 1, 1)
    assert Product.objects.get(woocommerce_id=made[5]["id"]).price == Decimal("77.70")


def test_since_imports_what_changed_after_the_given_moment(connected, shop):
    shop.seed_products(20, start=T0, step=timedelta(hours=1))
    call_command("sync_woocommerce", "--since", "2024-01-01T10:30:00Z", "--entity", "products", "--no-push")
    assert Product.objects.count() == 9  # modified at 11:00 ... 19:00


def test_a_429_is_retried_after_retry_after_and_the_import_completes(connected, shop):
    shop.seed_products(5, start=T0)
    shop.fail(429, times=2, retry_after="0", method="GET", path="products")

    report = shop_sync(full=True, entities=["products"])

    assert report.entities["products"].created == 5
    statuses = [r.status for r in shop.requests if r.path == "products"]
    assert statuses[:3] == [429, 429, 200]


def test_refused_credentials_give_up_at_once_with_a_clear_error(connected, shop):
    ShopConnection.objects.filter(pk=connected.pk).update(consumer_secret="cs_" + "0" * 40)

    with pytest.raises(SyncFailedError, match="credentials refused") as caught:
        shop_sync(full=True)

    assert "consumer key or secret is wrong" in caught.value.message
    assert len(shop.requests) == 1  # no retry
    conn = ShopConnection.objects.get()
    assert "WOOCOMMERCE_KEY" in conn.last_error
    assert conn.sync_lock_until is None
    with pytest.raises(CommandError, match="credentials"):
        call_command("sync_woocommerce", "--full", "--no-push")


def test_a_second_sync_while_one_runs_is_refused(connected, shop):
    ShopConnection.objects.filter(pk=connected.pk).update(sync_lock_until=datetime.now(UTC) + timedelta(minutes=5))
    with pytest.raises(Exception, match="already running"):
        shop_sync(full=True)
    assert shop.requests == []


def test_bad_since_and_no_connection_are_clear_errors(db, settings):
    settings.WORDPRESS_URL = ""
    with pytest.raises(CommandError, match="timezone"):
        call_command("sync_woocommerce", "--since", "2024-01-01T00:00:00")
    with pytest.raises(CommandError, match="not an ISO-8601"):
        call_command("sync_woocommerce", "--since", "yesterday")
    with pytest.raises(CommandError, match="No WooCommerce shop is connected"):
        call_command("sync_woocommerce", "--full")


def test_the_connection_is_seeded_from_the_environment_with_secrets_encrypted(db, shop, fast_woo):
    fast_woo.WORDPRESS_URL = shop.url
    fast_woo.WOOCOMMERCE_KEY = shop.consumer_key
    fast_woo.WOOCOMMERCE_SECRET = shop.consumer_secret
    fast_woo.WOOCOMMERCE_WEBHOOK_SECRET = "whsec-env"
    shop.seed_products(3, start=T0)

    shop_sync(full=True)

    conn = ShopConnection.objects.get()
    assert conn.webhook_secret == "whsec-env"
    with db_connection.cursor() as cursor:
        cursor.execute("SELECT consumer_secret, webhook_secret FROM commerce_app_shopconnection")
        stored = cursor.fetchone()
    assert shop.consumer_secret not in stored[0]
    assert stored[1].startswith("v1:")
    assert Product.objects.count() == 3


# --- pushing local changes -------------------------------------------------------------


def _linked_product(shop, **fields):
    made = shop.add_product(regular_price="50.00", sale_price="", stock_quantity=10, manage_stock=True, **fields)
    shop_sync(full=True, entities=["products"])
    return made, Product.objects.get(woocommerce_id=made["id"])


def test_a_price_change_is_pushed_once_with_its_idempotency_key(connected, shop):
    made, product = _linked_product(shop)
    product_update(product=product, data={"price": Decimal("44.00")}, agent_task_id="task-123")
    entry = OutboxEntry.objects.get()
    assert Product.objects.get(pk=product.pk).sync_state == SyncState.PENDING_PUSH

    report = outbox_push()

    assert report.applied == 1
    assert shop.products[made["id"]]["regular_price"] == "44.00"
    meta = {m["key"]: m["value"] for m in shop.products[made["id"]]["meta_data"]}
    assert meta[IDEMPOTENCY_META_KEY] == entry.idempotency_key
    entry.refresh_from_db()
    assert (entry.status, entry.agent_task_id, entry.attempts) == (OutboxStatus.APPLIED, "task-123", 1)
    assert Product.objects.get(pk=product.pk).sync_state == SyncState.SYNCED
    assert outbox_push().applied == 0  # nothing left
    assert len([r for r in shop.requests if r.path == "products/batch"]) == 1


def test_a_push_that_timed_out_after_reaching_the_shop_is_not_applied_twice(connected, shop, fast_woo):
    made, product = _linked_product(shop)
    product_update(product=product, data={"price": Decimal("39.00"), "stock": 3})
    fast_woo.WOOCOMMERCE_READ_TIMEOUT = 0.5
    shop.delay(1.5, times=1, method="POST", path="products/batch")  # applied by the shop, answer too late

    first = outbox_push()

    assert first.applied == 0
    assert first.pending == 1
    entry = OutboxEntry.objects.get()
    assert entry.status == OutboxStatus.SENDING  # outcome unknown
    assert "may have been applied" in entry.last_error
    deadline = time.monotonic() + 5
    while shop.products[made["id"]]["regular_price"] != "39.00" and time.monotonic() < deadline:
        time.sleep(0.05)

    second = outbox_push()

    assert second.already_applied == 1
    assert second.applied == 0
    batches = [r for r in shop.requests if r.method == "POST" and r.path == "products/batch"]
    assert len(batches) == 1  # read back, found the key, did not write again
    entry.refresh_from_db()
    assert (entry.status, entry.attempts) == (OutboxStatus.APPLIED, 2)
    assert shop.products[made["id"]]["stock_quantity"] == 3


def test_a_push_that_failed_before_applying_is_written_on_the_retry(connected, shop):
    made, product = _linked_product(shop)
    product_update(product=product, data={"status": "archived"})
    shop.fail(500, times=1, method="POST", path="products/batch")

    assert outbox_push().pending == 1
    second = outbox_push()

    assert second.applied == 1
    assert shop.products[made["id"]]["status"] == "private"
    assert len([r for r in shop.requests if r.path == "products/batch"]) == 2


def test_a_push_with_refused_credentials_keeps_the_change_pending_and_says_why(connected, shop):
    _, product = _linked_product(shop)
    product_update(product=product, data={"price": Decimal("45.00")})
    ShopConnection.objects.filter(pk=connected.pk).update(consumer_secret="cs_" + "0" * 40)

    with pytest.raises(PushFailedError, match="refused the API credentials"):
        outbox_push()

    entry = OutboxEntry.objects.get()
    assert entry.status == OutboxStatus.PENDING
    assert "WOOCOMMERCE_SECRET" in entry.last_error


def test_a_shop_change_during_a_pending_local_change_is_a_reported_conflict_and_local_wins(connected, shop):
    made, product = _linked_product(shop)
    product_update(product=product, data={"price": Decimal("41.00")})
    time.sleep(1.1)  # the shop's clock has one-second resolution
    with client_for(shop) as woo:
        woo.update_product(made["id"], {"regular_price": "60.00", "name": "Renamed in shop"})

    report = shop_sync(entities=["products"])

    assert report.entities["products"].conflicts == 1
    assert report.conflicts[0]["reason"] == "changed_on_both_sides"
    local = Product.objects.get(pk=product.pk)
    assert (local.sync_state, local.price, local.name) == (SyncState.CONFLICT, Decimal("41.00"), "Renamed in shop")
    assert "local wins" in local.sync_error

    pushed = outbox_push()

    assert pushed.applied == 1
    assert len(pushed.conflicts) == 1
    assert "after our last sync" in pushed.conflicts[0]["note"]
    assert shop.products[made["id"]]["regular_price"] == "41.00"
    assert Product.objects.get(pk=product.pk).sync_state == SyncState.SYNCED


def test_a_disabled_webhook_is_reported_and_its_entity_backfilled(connected, shop):
    shop.add_webhook(topic="order.updated", status="disabled")
    shop.add_webhook(topic="product.updated", status="active")
    shop.add_order(status="processing", total="10.00", line_items=[])

    report = shop_sync(entities=["products"])

    assert [h["topic"] for h in report.disabled_webhooks] == ["order.updated"]
    assert "orders" in report.entities
    assert Order.objects.count() == 1
    conn = ShopConnection.objects.get()
    assert {h["status"] for h in conn.webhooks_report} == {"disabled", "active"}


@pytest.mark.services
def test_on_postgresql_import_reimport_and_a_timed_out_push_behave_the_same(connected, shop, fast_woo):
    """The upserts (ON CONFLICT) and the outbox's row locks (SKIP LOCKED) on the production database."""
    assert db_connection.vendor == "postgresql"
    made = shop.seed_products(600, start=T0)  # more than one upsert chunk
    hoodie = shop.add_product(name="Variable", regular_price="90.00", sale_price="", modified=T0)
    shop.add_variation(hoodie["id"], regular_price="90.00", attributes=[{"name": "Size", "option": "M"}])
    shop.add_order(status="completed", total="20.00", line_items=[_line(made[1], 1)])

    first = shop_sync(full=True)
    again = shop_sync(full=True)

    assert (first.entities["products"].created, again.entities["products"].unchanged) == (602, 602)
    assert Product.objects.get(woocommerce_id=hoodie["id"]).variations.count() == 1
    assert Order.objects.get().items.get().product == Product.objects.get(woocommerce_id=made[1]["id"])
    product = Product.objects.get(woocommerce_id=made[2]["id"])
    product_update(product=product, data={"price": Decimal("12.34")})
    fast_woo.WOOCOMMERCE_READ_TIMEOUT = 0.5
    shop.delay(1.5, times=1, method="POST", path="products/batch")
    assert outbox_push().pending == 1
    deadline = time.monotonic() + 5
    while shop.products[made[2]["id"]]["regular_price"] != "12.34" and time.monotonic() < deadline:
        time.sleep(0.05)
    assert outbox_push().already_applied == 1
    assert len([r for r in shop.requests if r.method == "POST" and r.path == "products/batch"]) == 1
