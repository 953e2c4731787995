from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand

from devskyy.webhooks.services import deliveries_dispatch_due


class Command(BaseCommand):
    help = (
        "Queue an attempt for every webhook delivery already due whose message or timer was lost, or whose "
        "claim expired. What celery beat does every WEBHOOK_SWEEP_INTERVAL_SECONDS; for embedded mode after a "
        "restart, or after a Redis data loss. Safe any time: claims are conditional."
    )

    def handle(self, *args: Any, **options: Any) -> None:
        count = deliveries_dispatch_due()
        self.stdout.write(f"Queued an attempt for {count} webhook delivery(ies).")
