"""Explicit input and output serializers of the commerce API."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from rest_framework import serializers

from commerce_app.models import Customer, Order, OrderItem, Product, ProductStatus
from commerce_app.pricing import STRATEGIES


def _money(**options: Any) -> serializers.DecimalField:
    return serializers.DecimalField(max_digits=12, decimal_places=2, min_value=Decimal("0"), **options)


class ProductOutputSerializer(serializers.ModelSerializer[Product]):
    class Meta:
        model = Product
        fields = [
            "id",
            "sku",
            "name",
            "description",
            "price",
            "cost",
            "compare_at_price",
            "currency",
            "stock",
            "category",
            "collection",
            "status",
            "images",
            "woocommerce_id",
            "parent",
            "attributes",
            "sync_state",
            "sync_error",
            "woocommerce_modified_at",
            "last_synced_at",
            "created_at",
            "updated_at",
        ]
        read_only_fields = fields


class ProductInputSerializer(serializers.Serializer[Any]):
    """Create needs sku, name, price and category; update (partial) any subset."""

    sku = serializers.RegexField(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$", max_length=64)
    name = serializers.CharField(max_length=200)
    description = serializers.CharField(required=False, allow_blank=True, max_length=20000)
    price = _money()
    cost = _money(required=False)
    compare_at_price = _money(required=False, allow_null=True)
    currency = serializers.RegexField(r"^[A-Z]{3}$", required=False)
    stock = serializers.IntegerField(required=False, min_value=0, max_value=10_000_000)
    category = serializers.CharField(max_length=64)
    collection = serializers.CharField(required=False, allow_blank=True, max_length=64)
    status = serializers.ChoiceField(choices=ProductStatus.choices, required=False)
    images = serializers.ListField(child=serializers.CharField(max_length=2000), required=False, max_length=50)


class BulkItemSerializer(ProductInputSerializer):
    """A bulk item: ``id`` or ``sku`` names the product for update/delete."""

    id = serializers.IntegerField(required=False, min_value=1)


class BulkInputSerializer(serializers.Serializer[Any]):
    action = serializers.ChoiceField(choices=["create", "update", "delete"])
    products = serializers.ListField(child=serializers.DictField(), min_length=1, max_length=100)
    validate_only = serializers.BooleanField(default=False)


BULK_ITEM_STATUSES = ["created", "updated", "deleted", "valid", "error"]


class BulkItemResultSerializer(serializers.Serializer[Any]):
    index = serializers.IntegerField()
    status = serializers.ChoiceField(choices=BULK_ITEM_STATUSES)
    id = serializers.IntegerField(allow_null=True)
    sku = serializers.CharField()
    error = serializers.JSONField(allow_null=True, help_text="why the item failed (field errors or code/message)")


class BulkOutputSerializer(serializers.Serializer[Any]):
    action = serializers.CharField()
    validate_only = serializers.BooleanField()
    succeeded = serializers.IntegerField()
    failed = serializers.IntegerField()
    results = BulkItemResultSerializer(many=True)


class ProductFilterSerializer(serializers.Serializer[Any]):
    category = serializers.CharField(required=False, max_length=64)
    collection = serializers.CharField(required=False, max_length=64)
    status = serializers.ChoiceField(choices=ProductStatus.choices, required=False)
    stock_min = serializers.IntegerField(required=False, min_value=0)
    stock_max = serializers.IntegerField(required=False, min_value=0)
    search = serializers.CharField(required=False, max_length=200)
    ordering = serializers.ChoiceField(
        required=False,
        choices=[
            f"{sign}{name}"
            for name in ("sku", "name", "price", "stock", "updated_at", "created_at")
            for sign in ("", "-")
        ],
    )

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        low, high = attrs.get("stock_min"), attrs.get("stock_max")
        if low is not None and high is not None and low > high:
            raise serializers.ValidationError({"stock_max": "must be at least stock_min"})
        return attrs


class CustomerOutputSerializer(serializers.ModelSerializer[Customer]):
    class Meta:
        model = Customer
        fields = [
            "id",
            "email",
            "first_name",
            "last_name",
            "city",
            "country",
            "accepts_marketing",
            "woocommerce_id",
            "last_synced_at",
            "created_at",
        ]
        read_only_fields = fields


class OrderItemOutputSerializer(serializers.ModelSerializer[OrderItem]):
    class Meta:
        model = OrderItem
        fields = ["id", "product", "sku", "name", "quantity", "unit_price"]
        read_only_fields = fields


class OrderOutputSerializer(serializers.ModelSerializer[Order]):
    customer_email = serializers.EmailField(source="customer.email", allow_null=True, default=None)
    items = OrderItemOutputSerializer(many=True)

    class Meta:
        model = Order
        fields = [
            "id",
            "number",
            "customer",
            "customer_email",
            "status",
            "currency",
            "subtotal",
            "discount_total",
            "shipping_total",
            "tax_total",
            "total",
            "placed_at",
            "woocommerce_id",
            "last_synced_at",
            "items",
        ]
        read_only_fields = fields


class OrderFilterSerializer(serializers.Serializer[Any]):
    status = serializers.CharField(required=False, max_length=16)
    customer_email = serializers.EmailField(required=False)
    placed_after = serializers.DateTimeField(required=False)
    placed_before = serializers.DateTimeField(required=False)


class ConstraintsSerializer(serializers.Serializer[Any]):
    min_margin = serializers.DecimalField(
        max_digits=5, decimal_places=4, min_value=Decimal("0"), max_value=Decimal("0.99"), default=Decimal("0")
    )
    max_discount = serializers.DecimalField(
        max_digits=5, decimal_places=4, min_value=Decimal("0"), max_value=Decimal("0.9"), default=Decimal("0.3")
    )


class PricingInputSerializer(serializers.Serializer[Any]):
    product_ids = serializers.ListField(child=serializers.IntegerField(min_value=1), min_length=1, max_length=100)
    strategy = serializers.ChoiceField(choices=STRATEGIES)
    constraints = ConstraintsSerializer(required=False)


class PricingResultSerializer(serializers.Serializer[Any]):
    product_id = serializers.IntegerField()
    sku = serializers.CharField()
    current_price = serializers.DecimalField(max_digits=12, decimal_places=2)
    recommended_price = serializers.DecimalField(max_digits=12, decimal_places=2)
    change_pct = serializers.DecimalField(max_digits=8, decimal_places=1, allow_null=True)
    cost = serializers.DecimalField(max_digits=12, decimal_places=2)
    margin = serializers.DecimalField(max_digits=8, decimal_places=4, allow_null=True)
    stock = serializers.IntegerField()
    elasticity = serializers.FloatField()
    confidence = serializers.FloatField()
    weeks_with_sales = serializers.IntegerField()
    units_sold_90d = serializers.IntegerField()
    expected_daily_units = serializers.FloatField()
    expected_daily_profit = serializers.FloatField()
    current_daily_profit = serializers.FloatField()
    binding_constraint = serializers.CharField(allow_null=True)
    notes = serializers.ListField(child=serializers.CharField())


class PricingOutputSerializer(serializers.Serializer[Any]):
    strategy = serializers.CharField()
    constraints = ConstraintsSerializer()
    results = PricingResultSerializer(many=True)
    unknown_product_ids = serializers.ListField(child=serializers.IntegerField())


class LowStockFilterSerializer(serializers.Serializer[Any]):
    threshold = serializers.IntegerField(required=False, min_value=0, max_value=100000, default=5)
    collection = serializers.CharField(required=False, max_length=64, default="")
    sales_window_days = serializers.IntegerField(required=False, min_value=1, max_value=365, default=30)
    limit = serializers.IntegerField(required=False, min_value=1, max_value=500, default=100)


class LowStockItemSerializer(serializers.Serializer[Any]):
    id = serializers.IntegerField()
    sku = serializers.CharField()
    name = serializers.CharField()
    collection = serializers.CharField()
    stock = serializers.IntegerField()
    units_sold = serializers.IntegerField()
    days_of_cover = serializers.DecimalField(max_digits=10, decimal_places=1, allow_null=True)


class LowStockOutputSerializer(serializers.Serializer[Any]):
    threshold = serializers.IntegerField()
    sales_window_days = serializers.IntegerField()
    count = serializers.IntegerField()
    items = LowStockItemSerializer(many=True)


class WebhookAckSerializer(serializers.Serializer[Any]):
    status = serializers.CharField()
    delivery_id = serializers.CharField(required=False)
    duplicate = serializers.BooleanField(required=False)
