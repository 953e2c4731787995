"""Idempotency keys kept on WooCommerce objects, for exactly-once shop writes.

The outbox (built with the sync service) gives every change it pushes a key and
sends it inside the object's ``meta_data``; WooCommerce stores it with the object in
the same write. When the outbox cannot tell whether a write landed (a timeout, a
killed worker, ``TransientError.outcome_unknown``), it reads the object back before
writing again: if the object carries the key, the change is already there.

Pattern (the ``*_once`` methods of ``WooCommerceClient`` implement it):

* update of a known object: ``GET`` it; if its key equals ours, skip; else ``PUT``
  the change together with the key.
* create: look the object up by its natural key (the product SKU, which WooCommerce
  keeps unique); if found with our key, it was created already; found with another
  key is a conflict; not found, ``POST`` it with the key.
* no natural key: ``find_*_by_meta`` scans recently modified objects (bounded by
  ``modified_after``), because the v3 API has no meta filter.

The object holds only the latest key, so the outbox must send changes to one object
in order, one at a time (a row lock per object); it is the outbox's row that records
the whole history. The key is not underscore-prefixed: WordPress treats ``_`` keys as
protected meta, which recent WooCommerce versions refuse to write or show over REST
for some objects (woocommerce/woocommerce#55606).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

from .payloads import MetaData, meta_value

IDEMPOTENCY_META_KEY = "devskyy_idempotency_key"
T = TypeVar("T")


def with_idempotency_key(payload: Mapping[str, Any], key: str) -> dict[str, Any]:
    """A copy of a write payload whose ``meta_data`` carries ``key`` (replacing an older one)."""
    if not key:
        raise ValueError("An idempotency key must not be empty.")
    meta = [
        dict(entry)
        for entry in payload.get("meta_data") or []
        if not (isinstance(entry, Mapping) and entry.get("key") == IDEMPOTENCY_META_KEY)
    ]
    meta.append({"key": IDEMPOTENCY_META_KEY, "value": key})
    return {**payload, "meta_data": meta}


def idempotency_key_of(meta_data: Sequence[MetaData]) -> str | None:
    value = meta_value(meta_data, IDEMPOTENCY_META_KEY)
    return value if isinstance(value, str) and value else None


@dataclass(frozen=True, slots=True)
class WriteOutcome(Generic[T]):
    """``applied`` is False when the object already carried the key: nothing was written."""

    result: T
    applied: bool
