"""Shop data: catalog, customers and orders (kept in step with WooCommerce by issue 6).

Money is ``Decimal`` everywhere (``DecimalField``), never float. Stock can never be
negative (database constraint), so a report or tool never has to second-guess it.
"""

from __future__ import annotations

from decimal import Decimal

from django.db import models
from django.db.models import Q

from devskyy.core.fields import EncryptedTextField


class ProductStatus(models.TextChoices):
    DRAFT = "draft", "Draft"
    ACTIVE = "active", "Active"
    ARCHIVED = "archived", "Archived"


class SyncState(models.TextChoices):
    LOCAL = "local", "Local only"
    SYNCED = "synced", "In step with WooCommerce"
    PENDING_PUSH = "pending_push", "Local change not pushed yet"
    CONFLICT = "conflict", "Changed on both sides"
    ERROR = "error", "Last sync failed"


class Product(models.Model):
    """A sellable item. ``sku`` is the business key; ``woocommerce_id`` links it to the shop.

    ``cost`` is what one unit costs the brand, so margins are computed, not guessed;
    ``compare_at_price`` is the "was" price shown beside a markdown.
    """

    sku = models.CharField(max_length=64, unique=True)
    name = models.CharField(max_length=200)
    description = models.TextField(blank=True)
    price = models.DecimalField(max_digits=12, decimal_places=2)
    cost = models.DecimalField(max_digits=12, decimal_places=2, default=Decimal("0.00"))
    compare_at_price = models.DecimalField(max_digits=12, decimal_places=2, null=True, blank=True)
    currency = models.CharField(max_length=3, default="USD")
    stock = models.IntegerField(default=0)
    category = models.CharField(max_length=64, db_index=True)
    collection = models.CharField(max_length=64, db_index=True, blank=True)
    status = models.CharField(max_length=16, choices=ProductStatus.choices, default=ProductStatus.ACTIVE, db_index=True)
    images = models.JSONField(default=list, blank=True)
    woocommerce_id = models.BigIntegerField(null=True, blank=True, unique=True)
    sync_state = models.CharField(max_length=16, choices=SyncState.choices, default=SyncState.LOCAL, db_index=True)
    # A variation of a variable WooCommerce product points at its parent (None for simple products).
    parent = models.ForeignKey("self", null=True, blank=True, on_delete=models.CASCADE, related_name="variations")
    attributes = models.JSONField(default=dict, blank=True)
    # The shop's date_modified_gmt of the version we hold: the version compared by sync and webhooks.
    woocommerce_modified_at = models.DateTimeField(null=True, blank=True)
    last_synced_at = models.DateTimeField(null=True, blank=True)
    sync_error = models.TextField(blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["sku"]
        constraints = [
            models.CheckConstraint(condition=Q(stock__gte=0), name="product_stock_not_negative"),
            models.CheckConstraint(condition=Q(price__gte=0), name="product_price_not_negative"),
            models.CheckConstraint(condition=Q(cost__gte=0), name="product_cost_not_negative"),
        ]
        indexes = [models.Index(fields=["status", "stock"], name="product_status_stock")]

    def __str__(self) -> str:
        return f"{self.sku} {self.name}"


class Customer(models.Model):
    """A shop customer; ``email`` is unique (case-insensitively stored lower-case)."""

    email = models.EmailField(unique=True)
    first_name = models.CharField(max_length=100, blank=True)
    last_name = models.CharField(max_length=100, blank=True)
    city = models.CharField(max_length=100, blank=True)
    country = models.CharField(max_length=2, blank=True)
    # As the shop has it (WooCommerce billing.phone); the SMS channel's address.
    phone = models.CharField(max_length=32, blank=True)
    accepts_marketing = models.BooleanField(default=False)
    woocommerce_id = models.BigIntegerField(null=True, blank=True, unique=True)
    woocommerce_modified_at = models.DateTimeField(null=True, blank=True)
    last_synced_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["email"]

    def __str__(self) -> str:
        return self.email

    @property
    def full_name(self) -> str:
        return f"{self.first_name} {self.last_name}".strip()


class OrderStatus(models.TextChoices):
    PENDING = "pending", "Pending payment"
    PROCESSING = "processing", "Processing"
    COMPLETED = "completed", "Completed"
    CANCELLED = "cancelled", "Cancelled"
    REFUNDED = "refunded", "Refunded"
    FAILED = "failed", "Failed"


# Orders whose money the brand keeps: sales figures count only these.
REVENUE_STATUSES = (OrderStatus.PROCESSING, OrderStatus.COMPLETED)


class Order(models.Model):
    """A placed order. Totals are stored as the shop reported them (Decimal)."""

    number = models.CharField(max_length=32, unique=True)
    customer = models.ForeignKey(Customer, null=True, blank=True, on_delete=models.SET_NULL, related_name="orders")
    status = models.CharField(max_length=16, choices=OrderStatus.choices, default=OrderStatus.PENDING, db_index=True)
    currency = models.CharField(max_length=3, default="USD")
    subtotal = models.DecimalField(max_digits=12, decimal_places=2)
    discount_total = models.DecimalField(max_digits=12, decimal_places=2, default=Decimal("0.00"))
    shipping_total = models.DecimalField(max_digits=12, decimal_places=2, default=Decimal("0.00"))
    tax_total = models.DecimalField(max_digits=12, decimal_places=2, default=Decimal("0.00"))
    total = models.DecimalField(max_digits=12, decimal_places=2)
    placed_at = models.DateTimeField(db_index=True)
    woocommerce_id = models.BigIntegerField(null=True, blank=True, unique=True)
    woocommerce_modified_at = models.DateTimeField(null=True, blank=True)
    last_synced_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["-placed_at"]
        constraints = [models.CheckConstraint(condition=Q(total__gte=0), name="order_total_not_negative")]
        indexes = [models.Index(fields=["status", "placed_at"], name="order_status_placed")]

    def __str__(self) -> str:
        return self.number


class OrderItem(models.Model):
    """One line of an order. ``sku``/``name`` are copied so history survives product deletion."""

    order = models.ForeignKey(Order, on_delete=models.CASCADE, related_name="items")
    product = models.ForeignKey(Product, null=True, blank=True, on_delete=models.SET_NULL, related_name="order_items")
    sku = models.CharField(max_length=64, db_index=True)
    name = models.CharField(max_length=200, blank=True)
    quantity = models.PositiveIntegerField()
    unit_price = models.DecimalField(max_digits=12, decimal_places=2)

    class Meta:
        ordering = ["id"]
        constraints = [models.CheckConstraint(condition=Q(quantity__gte=1), name="order_item_quantity_positive")]

    def __str__(self) -> str:
        return f"{self.order_id}: {self.quantity} x {self.sku}"

    @property
    def line_total(self) -> Decimal:
        return self.unit_price * self.quantity


class ShopConnection(models.Model):
    """The WooCommerce shop DevSkyy keeps in step with (one row; ``name`` is "default").

    Credentials are encrypted at rest (``EncryptedTextField``). When WORDPRESS_URL,
    WOOCOMMERCE_KEY/SECRET (and WOOCOMMERCE_WEBHOOK_SECRET) are set they seed this row
    the first time it is needed; afterwards the admin is the place to change it.
    The ``*_cursor`` fields are the newest ``date_modified_gmt`` imported per entity:
    an incremental sync asks the shop for objects modified after them.
    """

    name = models.CharField(max_length=32, unique=True, default="default")
    store_url = models.URLField(max_length=300)
    consumer_key = EncryptedTextField()
    consumer_secret = EncryptedTextField()
    webhook_secret = EncryptedTextField(blank=True, default="")
    enabled = models.BooleanField(default=True)
    products_cursor = models.DateTimeField(null=True, blank=True)
    orders_cursor = models.DateTimeField(null=True, blank=True)
    customers_cursor = models.DateTimeField(null=True, blank=True)
    last_full_sync_at = models.DateTimeField(null=True, blank=True)
    last_sync_started_at = models.DateTimeField(null=True, blank=True)
    last_sync_finished_at = models.DateTimeField(null=True, blank=True)
    last_sync_report = models.JSONField(default=dict, blank=True)
    # Held while a sync runs, so two workers never import at once; expires by itself.
    sync_lock_until = models.DateTimeField(null=True, blank=True)
    last_error = models.TextField(blank=True)
    last_error_at = models.DateTimeField(null=True, blank=True)
    # What GET /webhooks said at the last sync: the shop disables a webhook after failures.
    webhooks_checked_at = models.DateTimeField(null=True, blank=True)
    webhooks_report = models.JSONField(default=list, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    def __str__(self) -> str:
        return f"{self.name}: {self.store_url}"


class OutboxStatus(models.TextChoices):
    PENDING = "pending", "Waiting to be pushed"
    SENDING = "sending", "Sent, answer not recorded yet"
    APPLIED = "applied", "Applied in the shop"
    FAILED = "failed", "Refused by the shop"
    SUPERSEDED = "superseded", "Replaced by a later change"


class OutboxEntry(models.Model):
    """One local change to push to WooCommerce exactly once.

    ``change`` holds the new values (``price``/``stock``/``status``); the shop object
    receives them together with ``idempotency_key`` in its meta data, so a retry after
    an unknown outcome (timeout, killed worker: status ``sending``) reads the object
    first and never writes the change twice. ``agent_task_id`` names the agent task
    whose tool made the change, so the outbox shows what each run changed in the shop.
    """

    product = models.ForeignKey(Product, on_delete=models.CASCADE, related_name="outbox_entries")
    woocommerce_id = models.BigIntegerField()
    change = models.JSONField()
    idempotency_key = models.CharField(max_length=64, unique=True)
    status = models.CharField(max_length=16, choices=OutboxStatus.choices, default=OutboxStatus.PENDING)
    attempts = models.PositiveIntegerField(default=0)
    last_error = models.TextField(blank=True)
    conflict = models.TextField(blank=True)
    agent_task_id = models.CharField(max_length=64, blank=True, db_index=True)
    actor_label = models.CharField(max_length=150, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)
    applied_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["id"]
        verbose_name_plural = "outbox entries"
        indexes = [models.Index(fields=["status", "id"], name="outbox_status_id")]

    def __str__(self) -> str:
        return f"outbox #{self.pk} {self.status}"


class DeliveryStatus(models.TextChoices):
    APPLIED = "applied", "Applied"
    UNCHANGED = "unchanged", "Same version as stored"
    STALE = "stale", "Older than the stored version"
    IGNORED = "ignored", "Topic not handled"
    FAILED = "failed", "Could not be applied"


class WebhookDelivery(models.Model):
    """One verified WooCommerce webhook delivery, kept raw (idempotent by ``delivery_id``)."""

    delivery_id = models.CharField(max_length=128, unique=True)
    webhook_id = models.BigIntegerField(null=True, blank=True)
    topic = models.CharField(max_length=64, db_index=True)
    headers = models.JSONField(default=dict)
    raw_body = models.TextField()
    status = models.CharField(max_length=16, choices=DeliveryStatus.choices)
    detail = models.TextField(blank=True)
    object_woocommerce_id = models.BigIntegerField(null=True, blank=True)
    duplicates = models.PositiveIntegerField(default=0)
    received_at = models.DateTimeField(auto_now_add=True, db_index=True)

    class Meta:
        ordering = ["-received_at"]
        verbose_name_plural = "webhook deliveries"

    def __str__(self) -> str:
        return f"{self.topic} {self.delivery_id}"
