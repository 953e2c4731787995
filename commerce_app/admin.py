"""Operator console for the shop's data."""

from __future__ import annotations

from typing import Any

from django.contrib import admin
from django.db.models import QuerySet
from django.http import HttpRequest

from commerce_app.models import Customer, Order, OrderItem, Product
from devskyy.core.catalog_changes import products_changed


@admin.register(Product)
class ProductAdmin(admin.ModelAdmin[Product]):
    list_display = ("sku", "name", "collection", "category", "price", "cost", "stock", "status", "sync_state")
    list_filter = ("status", "collection", "category", "sync_state")
    search_fields = ("sku", "name", "description")
    readonly_fields = ("created_at", "updated_at")

    # Every admin change is announced, so caches that quoted the product drop it.
    def save_model(self, request: HttpRequest, obj: Product, form: Any, change: bool) -> None:
        super().save_model(request, obj, form, change)
        products_changed([obj.pk])

    def delete_model(self, request: HttpRequest, obj: Product) -> None:
        pk = obj.pk
        super().delete_model(request, obj)
        products_changed([pk])

    def delete_queryset(self, request: HttpRequest, queryset: QuerySet[Product]) -> None:
        ids = list(queryset.values_list("pk", flat=True))
        super().delete_queryset(request, queryset)
        products_changed(ids)


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
