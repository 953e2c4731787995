"""Celery task delivering outbound webhooks (``celery -A devskyy.taskqueue worker``)."""

from __future__ import annotations

from celery import shared_task
from django.db import InterfaceError, OperationalError

from devskyy.core.background import periodic_task
from devskyy.webhooks.services import deliveries_dispatch_due, delivery_attempt, delivery_schedule


@shared_task(
    name="devskyy.webhooks.deliver",
    acks_late=True,
    reject_on_worker_lost=True,
    autoretry_for=(OperationalError, InterfaceError),
    retry_backoff=True,
    retry_backoff_max=60,
    max_retries=20,
)
def deliver_webhook(delivery_id: str) -> str:
    """One attempt at delivery ``delivery_id``; schedules the next one after a failure."""
    outcome = delivery_attempt(delivery_id=delivery_id)
    if outcome.retry_in is not None:
        delivery_schedule(delivery_id=delivery_id, countdown=outcome.retry_in)
    return outcome.status


@periodic_task("devskyy.webhooks.dispatch_due")
def dispatch_due_deliveries() -> int:
    """Beat, every WEBHOOK_SWEEP_INTERVAL_SECONDS: an attempt for every delivery already due
    whose message was lost (or whose claim expired); claims make a duplicate harmless."""
    return deliveries_dispatch_due()
