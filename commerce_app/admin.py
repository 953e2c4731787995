"""Operator console for the shop's data."""

from __future__ import annotations

from decimal import Decimal

from django.contrib import admin
from django.db.models import Count, DecimalField, QuerySet, Sum, Value
from django.db.models.functions import Coalesce
from django.http import HttpRequest

from commerce_app.models import Customer, Order, OrderItem, Product


@admin.register(Product)
class ProductAdmin(admin.ModelAdmin[Product]):
    list_display = ("sku", "name", "collection", "category", "price", "cost", "stock", "status", "sync_state")
    list_filter = ("status", "collection", "category", "sync_state")
    search_fields = ("sku", "name", "description")
    readonly_fields = ("woocommerce_id", "sync_state", "created_at", "updated_at")
    list_per_page = 100


@admin.register(Customer)
class CustomerAdmin(admin.ModelAdmin[Customer]):
    list_display = ("email", "first_name", "last_name", "city", "country", "accepts_marketing", "orders", "spent")
    list_filter = ("country", "accepts_marketing")
    search_fields = ("email", "first_name", "last_name")
    readonly_fields = ("woocommerce_id", "created_at", "updated_at")
    show_full_result_count = False

    def get_queryset(self, request: HttpRequest) -> QuerySet[Customer]:
        # Order count and spend per customer in the page's one query, not one per row.
        zero = Value(Decimal("0.00"), output_field=DecimalField(max_digits=14, decimal_places=2))
        return (
            super()
            .get_queryset(request)
            .annotate(order_count=Count("orders"), order_total=Coalesce(Sum("orders__total"), zero))
        )

    @admin.display(description="orders", ordering="order_count")
    def orders(self, obj: Customer) -> int:
        return int(obj.order_count)  # type: ignore[attr-defined]

    @admin.display(description="spent", ordering="order_total")
    def spent(self, obj: Customer) -> Decimal:
        return obj.order_total  # type: ignore[attr-defined,no-any-return]


class OrderItemInline(admin.TabularInline[OrderItem, Order]):
    model = OrderItem
    extra = 0
    raw_id_fields = ("product",)

    def get_queryset(self, request: HttpRequest) -> QuerySet[OrderItem]:
        return super().get_queryset(request).select_related("product")


@admin.register(Order)
class OrderAdmin(admin.ModelAdmin[Order]):
    list_display = ("number", "customer", "status", "items", "total", "currency", "placed_at")
    list_filter = ("status", "currency")
    search_fields = ("number", "customer__email")
    list_select_related = ("customer",)
    raw_id_fields = ("customer",)
    date_hierarchy = "placed_at"
    show_full_result_count = False
    readonly_fields = ("woocommerce_id", "created_at", "updated_at")
    inlines = (OrderItemInline,)

    def get_queryset(self, request: HttpRequest) -> QuerySet[Order]:
        return super().get_queryset(request).annotate(item_count=Count("items"))

    @admin.display(description="items", ordering="item_count")
    def items(self, obj: Order) -> int:
        return int(obj.item_count)  # type: ignore[attr-defined]
