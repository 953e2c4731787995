from __future__ import annotations

from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand

from devskyy.core.events import purge_expired


class Command(BaseCommand):
    help = "Delete stored feed events older than EVENT_RETENTION_HOURS."

    def handle(self, *args: Any, **options: Any) -> None:
        deleted = purge_expired()
        self.stdout.write(f"purged {deleted} feed event(s) older than {settings.EVENT_RETENTION_HOURS} h")
