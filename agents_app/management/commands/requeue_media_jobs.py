"""Queue the next step of active 3D / try-on jobs whose timer or queue message was lost."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandParser

from agents_app.media.services.steps import media_jobs_requeue


class Command(BaseCommand):
    help = (
        "Queue the next step of every queued/submitted/running media job that nobody holds and that has not "
        "moved for --stale-seconds (a lost embedded timer, a lost message). Safe any time: claims are conditional."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--stale-seconds", type=float, default=300.0, help="default 300")

    def handle(self, *args: Any, **options: Any) -> None:
        count = media_jobs_requeue(stale_seconds=options["stale_seconds"])
        self.stdout.write(f"Queued the next step of {count} media job(s).")
