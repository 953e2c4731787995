"""A tiny hook registry: "these products changed", for whoever keeps derived data.

``commerce_app`` (services, admin, API, bulk writes, WooCommerce sync and webhooks)
calls :func:`products_changed` with the primary keys of products it created, edited or
deleted; it imports nothing from the apps that listen. Listeners register with
:func:`on_products_changed` in their ``AppConfig.ready`` (``agents_app`` drops cached
LLM answers that quoted those products). The core imports no app, so apps meet here.

Called inside a transaction, listeners run once it commits (a rolled-back edit
announces nothing); called outside one (e.g. from an on-commit callback), they run at
once. A failing listener is logged and does not stop the others or the caller.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable

from django.db import transaction

logger = logging.getLogger(__name__)

ProductsChangedCallback = Callable[[list[int]], object]
_callbacks: list[ProductsChangedCallback] = []


def on_products_changed(callback: ProductsChangedCallback) -> None:
    """Register ``callback(ids)``; registering the same callback twice keeps one."""
    if callback not in _callbacks:
        _callbacks.append(callback)


subscribe = on_products_changed


def unsubscribe(callback: ProductsChangedCallback) -> None:
    if callback in _callbacks:
        _callbacks.remove(callback)


def products_changed(ids: Iterable[int | str | None]) -> None:
    """Tell every registered callback that the products with these ids changed."""
    changed = sorted({int(i) for i in ids if i is not None})
    if changed:
        transaction.on_commit(lambda: _notify(changed))


def _notify(changed: list[int]) -> None:
    for callback in list(_callbacks):
        try:
            callback(changed)
        except Exception:  # one listener's bug must not break catalog writes
            logger.exception("products_changed callback %r failed for %d product(s)", callback, len(changed))
