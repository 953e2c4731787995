"""Product edits in the admin go through the catalog services, as the API's do."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest
from django.conf import settings
from django.test import Client

from commerce_app.models import OutboxEntry, Product
from devskyy.core.models import AuditLog

pytestmark = pytest.mark.django_db

PRODUCTS = "/" + settings.ADMIN_URL + "commerce_app/product/"


def _product(**overrides: Any) -> Product:
    values: dict[str, Any] = {
        "sku": "TEE-ROSE-S",
        "name": "Rose Tee",
        "price": Decimal("40.00"),
        "cost": Decimal("12.00"),
        "stock": 5,
        "category": "tops",
        "collection": "Black Rose",
    }
    values.update(overrides)
    return Product.objects.create(**values)


def _form(product: Product, **changes: Any) -> dict[str, Any]:
    data = {
        "sku": product.sku,
        "name": product.name,
        "description": product.description,
        "price": str(product.price),
        "cost": str(product.cost),
        "compare_at_price": "",
        "currency": product.currency,
        "stock": str(product.stock),
        "category": product.category,
        "collection": product.collection,
        "status": product.status,
        "images": "[]",
    }
    data.update(changes)
    return data


def test_a_price_change_of_a_shop_linked_product_is_audited_and_queued_for_the_shop(admin_client: Client) -> None:
    product = _product(woocommerce_id=501)
    data = _form(product, price="35.00")
    data.pop("sku")  # read-only for linked products
    response = admin_client.post(f"{PRODUCTS}{product.pk}/change/", data)

    assert response.status_code == 302, response.content.decode()[:2000]
    product.refresh_from_db()
    assert product.price == Decimal("35.00")
    entry = OutboxEntry.objects.get(product=product)
    assert entry.change == {"price": "35.00"}
    audit = AuditLog.objects.get(action="commerce.product.updated", target_id=str(product.pk))
    assert audit.details["changed"] == {"price": "40.00 -> 35.00"}
    assert audit.actor_label  # the operator, not anonymous


def test_the_sku_of_a_shop_linked_product_cannot_be_changed_in_the_admin(admin_client: Client) -> None:
    product = _product(woocommerce_id=502)
    admin_client.post(f"{PRODUCTS}{product.pk}/change/", _form(product, sku="OTHER-SKU"))
    product.refresh_from_db()
    assert product.sku == "TEE-ROSE-S"


def test_a_negative_stock_is_refused_with_the_form_and_changes_nothing(admin_client: Client) -> None:
    product = _product()
    response = admin_client.post(f"{PRODUCTS}{product.pk}/change/", _form(product, stock="-3"))
    assert response.status_code == 200  # the form again, with the error
    assert "errornote" in response.content.decode()
    product.refresh_from_db()
    assert product.stock == 5
    assert not AuditLog.objects.filter(action="commerce.product.updated").exists()


def test_a_product_added_in_the_admin_is_created_through_the_service(admin_client: Client) -> None:
    blank = Product(sku="CAP-NOIR", name="Noir Cap", price=Decimal("25.00"), category="accessories")
    response = admin_client.post(f"{PRODUCTS}add/", _form(blank))
    assert response.status_code == 302
    created = Product.objects.get(sku="CAP-NOIR")
    assert AuditLog.objects.filter(action="commerce.product.created", target_id=str(created.pk)).exists()
    assert not OutboxEntry.objects.exists()  # local products are not in the shop


def test_deleting_keeps_shop_linked_products_and_audits_local_ones(admin_client: Client) -> None:
    local = _product()
    linked = _product(sku="TEE-ROSE-M", woocommerce_id=503)
    response = admin_client.post(
        PRODUCTS,
        {"action": "delete_selected", "_selected_action": [str(local.pk), str(linked.pk)], "post": "yes"},
    )
    # Django refuses the whole bulk delete when one selected object may not be deleted.
    assert response.status_code == 403
    assert Product.objects.filter(pk__in=[local.pk, linked.pk]).count() == 2

    response = admin_client.post(f"{PRODUCTS}{local.pk}/delete/", {"post": "yes"})
    assert response.status_code == 302
    assert not Product.objects.filter(pk=local.pk).exists()
    assert AuditLog.objects.filter(action="commerce.product.deleted", target_id=str(local.pk)).exists()
    assert admin_client.get(f"{PRODUCTS}{linked.pk}/delete/").status_code == 403
