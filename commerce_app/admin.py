"""Operator console for the shop's data."""

from __future__ import annotations

from django.contrib import admin

from commerce_app.models import Customer, Order, OrderItem, Product


@admin.register(Product)
class ProductAdmin(admin.ModelAdmin[Product]):
    list_display = ("sku", "name", "collection", "category", "price", "cost", "stock", "status", "sync_state")
    list_filter = ("status", "collection", "category", "sync_state")
    search_fields = ("sku", "name", "description")
    readonly_fields = ("created_at", "updated_at")


@admin.register(Customer)
class CustomerAdmin(admin.ModelAdmin[Customer]):
    list_display = ("email", "first_name", "last_name", "city", "country", "accepts_marketing")
    list_filter = ("country", "accepts_marketing")
    search_fields = ("email", "first_name", "last_name")


class OrderItemInline(admin.TabularInline[OrderItem, Order]):
    model = OrderItem
    extra = 0
    raw_id_fields = ("product",)


@admin.register(Order)
class OrderAdmin(admin.ModelAdmin[Order]):
    list_display = ("number", "customer", "status", "total", "currency", "placed_at")
    list_filter = ("status", "currency")
    search_fields = ("number", "customer__email")
    list_select_related = ("customer",)
    raw_id_fields = ("customer",)
    date_hierarchy = "placed_at"
    show_full_result_count = False
    inlines = (OrderItemInline,)
