"""Announcing that products changed, to whatever keeps data derived from them.

``commerce_app`` (services, admin, WooCommerce sync and webhooks) calls
:func:`products_changed` whenever it creates, edits or deletes products; it imports
nothing from the apps that listen. Listeners register with :func:`subscribe` in their
``AppConfig.ready`` (``agents_app`` drops cached LLM answers that quoted those
products). Listeners run after the surrounding transaction commits, so a rolled-back
edit announces nothing, and a failing listener is logged without breaking the write.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable

from django.db import transaction

logger = logging.getLogger(__name__)

Listener = Callable[[list[str]], object]
_listeners: list[Listener] = []


def subscribe(listener: Listener) -> None:
    """Call ``listener(product_ids)`` (primary keys as strings) after every change; idempotent."""
    if listener not in _listeners:
        _listeners.append(listener)


def unsubscribe(listener: Listener) -> None:
    if listener in _listeners:
        _listeners.remove(listener)


def products_changed(product_ids: Iterable[int | str]) -> None:
    """Announce that these products (primary keys) changed; listeners run on commit."""
    ids = sorted({str(pid) for pid in product_ids if pid is not None})
    if ids:
        transaction.on_commit(lambda: _notify(ids))


def _notify(ids: list[str]) -> None:
    for listener in list(_listeners):
        try:
            listener(ids)
        except Exception:  # a listener's failure must not undo or break the product write
            logger.exception("catalog change listener %r failed for %d product(s)", listener, len(ids))
