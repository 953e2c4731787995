"""Announce a domain event to outbound webhook subscribers: ``emit(event_type, payload)``.

Call it inside the transaction that makes the change (a product saved, an order
updated): one delivery row per matching active subscription is written in that same
transaction, and sending starts on the task queue after commit, so a rolled-back
change is never announced and a committed one is never lost. Apps call this module;
they never import ``devskyy.webhooks``.

``payload`` must be JSON-serialisable after Decimal/datetime/UUID conversion.
"""

from __future__ import annotations

from typing import Any

EVENT_TYPES: tuple[str, ...] = (
    "task.completed",
    "task.failed",
    "task.cancelled",
    "product.created",
    "product.updated",
    "product.deleted",
    "order.created",
    "order.updated",
    "customer.created",
    "customer.updated",
    "campaign.scheduled",
    "campaign.sent",
    "campaign.completed",
    "webhook.test",
)


def emit(event_type: str, payload: dict[str, Any]) -> int:
    """Queue ``event_type`` for every active subscriber; returns how many deliveries were made."""
    if event_type not in EVENT_TYPES:
        raise ValueError(f"unknown outbound event type {event_type!r}; add it to EVENT_TYPES")
    from devskyy.webhooks.services import event_emit

    return len(event_emit(event_type=event_type, payload=payload))
