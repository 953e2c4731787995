"""WooCommerce integration: REST v3 client, payload types, idempotency keys, webhook checks.

The sync service and the outbox use ``WooCommerceClient``; the webhook endpoint uses
``webhooks``. Nothing here touches the database.
"""

from .client import MAX_BATCH_ITEMS, MAX_PER_PAGE, Page, RetryPolicy, Timeouts, WooCommerceClient
from .errors import (
    AuthenticationError,
    ConfigurationError,
    MalformedResponseError,
    ObjectNotFoundError,
    PermanentError,
    TransientError,
    WooCommerceError,
)
from .idempotency import IDEMPOTENCY_META_KEY, WriteOutcome, idempotency_key_of, with_idempotency_key
from .payloads import (
    BatchItemResult,
    BatchResult,
    Customer,
    ItemError,
    LineItem,
    MetaData,
    Order,
    Product,
    ProductWrite,
    Variation,
)

__all__ = [
    "IDEMPOTENCY_META_KEY",
    "MAX_BATCH_ITEMS",
    "MAX_PER_PAGE",
    "AuthenticationError",
    "BatchItemResult",
    "BatchResult",
    "ConfigurationError",
    "Customer",
    "ItemError",
    "LineItem",
    "MalformedResponseError",
    "MetaData",
    "ObjectNotFoundError",
    "Order",
    "Page",
    "PermanentError",
    "Product",
    "ProductWrite",
    "RetryPolicy",
    "Timeouts",
    "TransientError",
    "Variation",
    "WooCommerceClient",
    "WooCommerceError",
    "WriteOutcome",
    "idempotency_key_of",
    "with_idempotency_key",
]
