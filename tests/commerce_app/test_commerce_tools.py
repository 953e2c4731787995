"""The agents' commerce tools run through commerce services, against the local shop where needed."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import pytest

from agents_app.exceptions import ToolError, ToolInputInvalidError
from agents_app.tools.base import get_tool, validate_input
from commerce_app.models import OutboxEntry, OutboxStatus, Product
from devskyy.core.models import AuditLog


class Ctx:
    agent_slug = "inventory"
    task_id: str | None = "7d5c2a9e-0000-0000-0000-000000000001"

    def checkpoint(self, progress: int) -> None:
        pass


def run(name: str, params: dict[str, Any]) -> dict[str, Any]:
    tool = get_tool(name)
    return tool.fn(Ctx(), validate_input(tool, params))


@pytest.fixture
def configured(fast_woo, shop):
    fast_woo.WORDPRESS_URL = shop.url
    fast_woo.WOOCOMMERCE_KEY = shop.consumer_key
    fast_woo.WOOCOMMERCE_SECRET = shop.consumer_secret
    return shop


@pytest.mark.django_db
def test_sync_now_imports_from_the_shop_and_push_product_sends_through_the_outbox(configured):
    shop = configured
    made = shop.seed_products(12, start=datetime(2024, 1, 1, tzinfo=UTC))

    synced = run("woocommerce_sync", {"entity": "all", "full": True})

    assert synced["sync"]["entities"]["products"]["created"] == 12
    product = Product.objects.get(woocommerce_id=made[0]["id"])
    result = run("stock_update", {"sku": product.sku, "delta": 5})
    assert (result["stock_before"], result["stock"], result["outbox_pending"]) == (0, 5, 1)
    entry = OutboxEntry.objects.get()
    assert entry.agent_task_id == Ctx.task_id
    assert entry.actor_label == "agent:inventory"

    pushed = run("woocommerce_push_product", {"sku": product.sku})

    assert pushed["status"] == OutboxStatus.APPLIED
    assert shop.products[made[0]["id"]]["stock_quantity"] == 5
    assert OutboxEntry.objects.filter(status=OutboxStatus.APPLIED).count() == 2


@pytest.mark.django_db
def test_stock_update_refuses_negative_stock_and_unknown_skus():
    Product.objects.create(sku="S-1", name="S", price=Decimal("10"), category="c", stock=2)
    with pytest.raises(ToolError, match="cannot be negative"):
        run("stock_update", {"sku": "S-1", "delta": -3})
    with pytest.raises(ToolError, match="No product"):
        run("stock_update", {"sku": "NOPE", "stock": 1})
    with pytest.raises(ToolInputInvalidError):
        run("stock_update", {"sku": "S-1", "stock": 1, "delta": 1})
    assert Product.objects.get(sku="S-1").stock == 2


@pytest.mark.django_db
def test_price_optimization_recommends_within_constraints_and_applies_when_asked():
    Product.objects.create(sku="P-1", name="P", price=Decimal("100"), cost=Decimal("70"), category="c", stock=5)
    Product.objects.create(sku="P-2", name="Q", price=Decimal("60"), cost=Decimal("10"), category="c", stock=5)

    advice = run("price_optimization", {"skus": ["P-1", "P-2", "GHOST"], "strategy": "competitive", "min_margin": 0.4})

    assert advice["missing_skus"] == ["GHOST"]
    by_sku = {r["sku"]: r for r in advice["results"]}
    assert by_sku["P-1"]["recommended_price"] == Decimal("116.67")  # 70 / (1 - 0.4), rounded up
    assert Product.objects.get(sku="P-1").price == Decimal("100")

    applied = run("price_optimization", {"skus": ["P-1"], "strategy": "competitive", "min_margin": 0.4, "apply": True})

    assert applied["applied"] == ["P-1"]
    assert Product.objects.get(sku="P-1").price == Decimal("116.67")
    assert AuditLog.objects.filter(action="commerce.product.updated", actor_label="agent:inventory").exists()


@pytest.mark.django_db
def test_a_shop_connected_only_in_the_admin_makes_the_woocommerce_tools_available(fast_woo, shop):
    from agents_app.integrations import forget_shop_status
    from agents_app.tools.integrations import IntegrationNotConfiguredError
    from commerce_app.models import ShopConnection

    fast_woo.WORDPRESS_URL = fast_woo.WOOCOMMERCE_KEY = fast_woo.WOOCOMMERCE_SECRET = ""
    with pytest.raises(IntegrationNotConfiguredError):
        run("woocommerce_sync", {"entity": "products", "full": True})

    shop.seed_products(3, start=datetime(2024, 1, 1, tzinfo=UTC))
    connection = ShopConnection.objects.create(
        store_url=shop.url, consumer_key=shop.consumer_key, consumer_secret=shop.consumer_secret
    )
    forget_shop_status()  # this process re-reads the connection at most every 5 s
    synced = run("woocommerce_sync", {"entity": "products", "full": True})
    assert synced["sync"]["entities"]["products"]["created"] == 3

    connection.enabled = False
    connection.save()
    forget_shop_status()
    with pytest.raises(IntegrationNotConfiguredError):
        run("woocommerce_sync", {"entity": "products", "full": True})
