"""Queue tasks of marketing campaigns (``celery -A devskyy.taskqueue worker``).

``dispatch_due_campaigns`` runs on the beat schedule (every
MARKETING_DISPATCH_INTERVAL_SECONDS; render.yaml's ``devskyy-scheduler``);
``send_campaign`` is queued after commit when a campaign becomes due at once (copy
written for a past ``send_at``, "send now"). Both claim race-free, so duplicates of
either message are harmless.
"""

from __future__ import annotations

from typing import Any

from celery import shared_task
from django.db import InterfaceError, OperationalError

from agents_app.marketing.services import campaign_dispatch, campaigns_dispatch_due
from devskyy.core.background import periodic_task


@periodic_task("agents_app.marketing.tasks.dispatch_due_campaigns")
def dispatch_due_campaigns() -> dict[str, Any]:
    return campaigns_dispatch_due().as_dict()


@shared_task(
    name="agents_app.marketing.tasks.send_campaign",
    acks_late=True,
    autoretry_for=(OperationalError, InterfaceError),
    retry_backoff=True,
    max_retries=10,
)
def send_campaign(campaign_id: str) -> dict[str, Any]:
    return campaign_dispatch(campaign_id=campaign_id).as_dict()
