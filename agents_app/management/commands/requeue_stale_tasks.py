from __future__ import annotations

from datetime import timedelta
from typing import Any

from django.core.management.base import BaseCommand, CommandParser

from agents_app.services.execution import tasks_requeue_stale


class Command(BaseCommand):
    help = "Queue again tasks whose message may be lost (old pending, expired leases). Safe to repeat."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--pending-older-than", type=int, default=300, help="seconds (default 300)")

    def handle(self, *args: Any, **options: Any) -> None:
        count = tasks_requeue_stale(pending_older_than=timedelta(seconds=options["pending_older_than"]))
        self.stdout.write(f"requeued {count} task(s)")
