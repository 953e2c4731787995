"""Celery task delivering outbound webhooks (``celery -A devskyy.taskqueue worker``)."""

from __future__ import annotations

from celery import shared_task
from django.db import InterfaceError, OperationalError

from devskyy.webhooks.services import delivery_attempt, delivery_schedule


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
