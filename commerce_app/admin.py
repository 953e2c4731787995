"""Operator console for the shop's data, the shop connection, the outbox and webhook deliveries."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from django import forms
from django.contrib import admin, messages
from django.db.models import Count, DecimalField, QuerySet, Sum, Value
from django.db.models.functions import Coalesce
from django.http import HttpRequest

from commerce_app.models import (
    Customer,
    Order,
    OrderItem,
    OutboxEntry,
    Product,
    ShopConnection,
    WebhookDelivery,
)
from commerce_app.services import PRODUCT_FIELDS, product_create, product_delete, product_update
from devskyy.core.background import enqueue
from devskyy.core.errors import DomainError

_SECRETS = ("consumer_key", "consumer_secret", "webhook_secret")


@admin.register(Product)
class ProductAdmin(admin.ModelAdmin[Product]):
    list_display = ("sku", "name", "collection", "category", "price", "cost", "stock", "status", "sync_state")
    list_filter = ("status", "collection", "category", "sync_state")
    search_fields = ("sku", "name", "description")
    readonly_fields = (
        "woocommerce_id",
        "parent",
        "attributes",
        "sync_state",
        "sync_error",
        "woocommerce_modified_at",
        "last_synced_at",
        "created_at",
        "updated_at",
    )
    list_select_related = ("parent",)
    list_per_page = 100
    show_full_result_count = False
    actions = ("push_to_shop",)

    @admin.action(description="Push pending price/stock/status changes to the shop now")
    def push_to_shop(self, request: HttpRequest, queryset: QuerySet[Product]) -> None:
        from commerce_app.tasks import push_outbox

        enqueue(push_outbox)
        messages.info(request, "Outbox push queued; see Outbox entries for the outcome.")

    def get_readonly_fields(self, request: HttpRequest, obj: Product | None = None) -> Any:
        # A shop-linked product's SKU is WooCommerce's to change (services.product_update).
        fields = tuple(self.readonly_fields)
        return (*fields, "sku") if obj is not None and obj.woocommerce_id is not None else fields

    def has_delete_permission(self, request: HttpRequest, obj: Product | None = None) -> bool:
        # Shop-linked products are archived (status), never deleted here: see product_delete.
        if obj is not None and obj.woocommerce_id is not None:
            return False
        return super().has_delete_permission(request, obj)

    # Admin writes go through the catalog services, like the API's: validation, audit row,
    # outbox entry for price/stock/status of shop-linked products, cache invalidation.
    def save_model(self, request: HttpRequest, obj: Product, form: Any, change: bool) -> None:
        fields = [name for name in form.changed_data if name in PRODUCT_FIELDS] if change else list(PRODUCT_FIELDS)
        data = {name: form.cleaned_data[name] for name in fields if name in form.cleaned_data}
        try:
            if change:
                saved = product_update(product=obj, data=data, actor=request.user)
            else:
                saved = product_create(data=data, actor=request.user)
        except DomainError as exc:
            # The form validated the same rules; this is a concurrent change. Say so.
            messages.error(request, f"Not saved: {exc.message}")
            return
        obj.pk = saved.pk
        obj.refresh_from_db()

    def delete_model(self, request: HttpRequest, obj: Product) -> None:
        product_delete(product=obj, actor=request.user)

    def delete_queryset(self, request: HttpRequest, queryset: QuerySet[Product]) -> None:
        refused = []
        for product in queryset:
            try:
                product_delete(product=product, actor=request.user)
            except DomainError:
                refused.append(product.sku)
        if refused:
            messages.warning(
                request, f"Shop-linked products are archived, not deleted; kept: {', '.join(refused[:20])}"
            )


@admin.register(Customer)
class CustomerAdmin(admin.ModelAdmin[Customer]):
    list_display = (
        "email",
        "first_name",
        "last_name",
        "city",
        "country",
        "accepts_marketing",
        "orders",
        "spent",
        "last_synced_at",
    )
    list_filter = ("country", "accepts_marketing")
    search_fields = ("email", "first_name", "last_name")
    readonly_fields = ("woocommerce_id", "woocommerce_modified_at", "last_synced_at", "created_at", "updated_at")
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
    list_display = ("number", "customer", "status", "items", "total", "currency", "placed_at", "last_synced_at")
    list_filter = ("status", "currency")
    search_fields = ("number", "customer__email")
    list_select_related = ("customer",)
    raw_id_fields = ("customer",)
    date_hierarchy = "placed_at"
    show_full_result_count = False
    readonly_fields = ("woocommerce_id", "woocommerce_modified_at", "last_synced_at", "created_at", "updated_at")
    inlines = (OrderItemInline,)

    def get_queryset(self, request: HttpRequest) -> QuerySet[Order]:
        return super().get_queryset(request).annotate(item_count=Count("items"))

    @admin.display(description="items", ordering="item_count")
    def items(self, obj: Order) -> int:
        return int(obj.item_count)  # type: ignore[attr-defined]


class ShopConnectionForm(forms.ModelForm[ShopConnection]):
    """Secrets are write-only: never rendered back; left empty, the stored value stays."""

    store_url = forms.URLField(max_length=300, assume_scheme="https")
    consumer_key = forms.CharField(required=False, widget=forms.PasswordInput(render_value=False))
    consumer_secret = forms.CharField(required=False, widget=forms.PasswordInput(render_value=False))
    webhook_secret = forms.CharField(required=False, widget=forms.PasswordInput(render_value=False))

    class Meta:
        model = ShopConnection
        fields = ("name", "store_url", "consumer_key", "consumer_secret", "webhook_secret", "enabled")

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        for name in _SECRETS:
            self.initial[name] = ""
            stored = bool(self.instance.pk and getattr(self.instance, name))
            self.fields[name].help_text = "Set (leave empty to keep)." if stored else "Not set."

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        for name in ("consumer_key", "consumer_secret"):
            if not data.get(name) and not (self.instance.pk and getattr(self.instance, name)):
                self.add_error(name, "Required.")
        return data

    def save(self, commit: bool = True) -> ShopConnection:
        instance = super().save(commit=False)
        for name in _SECRETS:
            value = self.cleaned_data.get(name)
            if not value and self.instance.pk:
                setattr(instance, name, ShopConnection.objects.values_list(name, flat=True).get(pk=self.instance.pk))
        if commit:
            instance.save()
        return instance


@admin.register(ShopConnection)
class ShopConnectionAdmin(admin.ModelAdmin[ShopConnection]):
    form = ShopConnectionForm
    list_display = ("name", "store_url", "enabled", "last_sync_finished_at", "last_error_at")
    readonly_fields = (
        "products_cursor",
        "orders_cursor",
        "customers_cursor",
        "last_full_sync_at",
        "last_sync_started_at",
        "last_sync_finished_at",
        "last_sync_report",
        "last_error",
        "last_error_at",
        "webhooks_checked_at",
        "webhooks_report",
        "sync_lock_until",
    )
    actions = ("sync_now", "full_sync_now")

    @admin.action(description="Sync now (incremental)")
    def sync_now(self, request: HttpRequest, queryset: QuerySet[ShopConnection]) -> None:
        from commerce_app.tasks import sync_shop

        enqueue(sync_shop, False)
        messages.info(request, "Incremental sync queued; the report appears here when it finishes.")

    @admin.action(description="Full sync now")
    def full_sync_now(self, request: HttpRequest, queryset: QuerySet[ShopConnection]) -> None:
        from commerce_app.tasks import sync_shop

        enqueue(sync_shop, True)
        messages.info(request, "Full sync queued; the report appears here when it finishes.")


@admin.register(OutboxEntry)
class OutboxEntryAdmin(admin.ModelAdmin[OutboxEntry]):
    list_display = ("id", "product", "status", "attempts", "agent_task_id", "created_at", "applied_at")
    list_filter = ("status",)
    search_fields = ("product__sku", "idempotency_key", "agent_task_id")
    list_select_related = ("product",)
    show_full_result_count = False
    readonly_fields = [f.name for f in OutboxEntry._meta.fields]

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False


@admin.register(WebhookDelivery)
class WebhookDeliveryAdmin(admin.ModelAdmin[WebhookDelivery]):
    list_display = ("received_at", "topic", "status", "object_woocommerce_id", "duplicates", "delivery_id")
    list_filter = ("status", "topic")
    search_fields = ("delivery_id",)
    show_full_result_count = False
    readonly_fields = [f.name for f in WebhookDelivery._meta.fields]

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False
