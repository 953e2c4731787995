"""A tiny hook registry: "these products changed", for whoever keeps derived data.

Commerce services call ``products_changed(ids)`` after a committed catalog write
(API, bulk, sync, webhook); consumers such as the LLM cache register a callback with
``on_products_changed``. The core imports no app, so apps meet here.
A failing callback is logged and does not stop the others or the caller.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable

logger = logging.getLogger(__name__)

ProductsChangedCallback = Callable[[list[int]], None]
_callbacks: list[ProductsChangedCallback] = []


def on_products_changed(callback: ProductsChangedCallback) -> None:
    """Register ``callback(ids)``; registering the same callback twice keeps one."""
    if callback not in _callbacks:
        _callbacks.append(callback)


def products_changed(ids: Iterable[int]) -> None:
    """Tell every registered callback that the products with these ids changed."""
    changed = sorted({int(i) for i in ids})
    if not changed:
        return
    for callback in list(_callbacks):
        try:
            callback(changed)
        except Exception:  # noqa: BLE001 - one listener's bug must not break catalog writes
            logger.exception("products_changed callback %r failed", callback)
