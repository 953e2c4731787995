"""Background work of the commerce app (``celery -A devskyy.taskqueue worker``).

``sync_shop`` runs on the beat schedule (CELERY_BEAT_SCHEDULE, every
WOOCOMMERCE_SYNC_INTERVAL_SECONDS; the ``devskyy-scheduler`` service in render.yaml
runs ``celery beat``): push the outbox, then an incremental import. ``push_outbox`` is
queued after every committed local price/stock/status change.
"""

from __future__ import annotations

import logging
from typing import Any

from celery import shared_task
from django.db import InterfaceError, OperationalError

from commerce_app.outbox import outbox_push_safely
from commerce_app.sync import shop_connection_get, shop_sync
from devskyy.core.errors import DomainError

logger = logging.getLogger(__name__)


@shared_task(
    name="commerce_app.tasks.push_outbox",
    acks_late=True,
    autoretry_for=(OperationalError, InterfaceError),
    retry_backoff=True,
    max_retries=10,
)
def push_outbox() -> dict[str, Any]:
    return outbox_push_safely()


@shared_task(name="commerce_app.tasks.sync_shop", acks_late=True)
def sync_shop(full: bool = False) -> dict[str, Any]:
    """Push pending local changes, then import what changed in the shop since the cursors."""
    connection = shop_connection_get()
    if connection is None or not connection.enabled:
        return {"skipped": "no enabled shop connection"}
    pushed = outbox_push_safely()
    try:
        report = shop_sync(full=full, actor_label="system:beat")
    except DomainError as exc:  # recorded on the connection and announced by shop_sync
        logger.warning("periodic WooCommerce sync failed: %s", exc.message)
        return {"push": pushed, "error": exc.message}
    return {"push": pushed, "sync": report.as_dict()}
