"""The demo shop seed: deterministic, idempotent, realistic enough for the tools."""

from __future__ import annotations

import io
from datetime import timedelta

import pytest
from django.core.management import call_command
from django.db import IntegrityError, transaction
from django.utils import timezone

from commerce_app.models import Customer, Order, OrderItem, Product

pytestmark = pytest.mark.django_db


def test_seed_demo_shop_is_idempotent_and_keeps_operator_edits() -> None:
    out = io.StringIO()
    call_command("seed_demo_shop", stdout=out)
    assert "created 60 products, 200 customers" in out.getvalue()
    counts = (Product.objects.count(), Customer.objects.count(), Order.objects.count(), OrderItem.objects.count())
    assert counts[0] == 60
    assert counts[1] == 200
    assert counts[2] > 500
    Product.objects.filter(sku="SIG-HOO-001").update(stock=3)
    again = io.StringIO()
    call_command("seed_demo_shop", stdout=again)
    assert "created 0 products, 0 customers, 0 orders" in again.getvalue()
    assert (
        Product.objects.count(),
        Customer.objects.count(),
        Order.objects.count(),
        OrderItem.objects.count(),
    ) == counts
    assert Product.objects.get(sku="SIG-HOO-001").stock == 3


def test_demo_shop_spans_a_year_and_three_collections() -> None:
    call_command("seed_demo_shop", stdout=io.StringIO())
    assert set(Product.objects.values_list("collection", flat=True)) == {"Signature", "Black Rose", "Love Hurts"}
    oldest = Order.objects.order_by("placed_at").first()
    assert oldest is not None
    assert timezone.now() - oldest.placed_at > timedelta(days=360)
    for order in Order.objects.prefetch_related("items")[:50]:
        lines = sum(i.unit_price * i.quantity for i in order.items.all())
        assert order.subtotal == lines
        assert order.total == order.subtotal - order.discount_total + order.shipping_total + order.tax_total


def test_stock_can_never_go_negative() -> None:
    call_command("seed_demo_shop", stdout=io.StringIO())
    with pytest.raises(IntegrityError), transaction.atomic():
        Product.objects.filter(sku="SIG-HOO-001").update(stock=-1)
