"""``manage.py purge_tasks --older-than 30d``: delete old finished tasks."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from agents_app.services.maintenance import parse_duration, tasks_purge_finished
from devskyy.core.errors import DomainError


class Command(BaseCommand):
    help = "Delete completed, failed and cancelled tasks that finished longer ago than --older-than (e.g. 30d)."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--older-than", required=True, help="age such as 90m, 12h, 30d or 2w")
        parser.add_argument("--dry-run", action="store_true", help="only count what would be deleted")

    def handle(self, *args: Any, **options: Any) -> None:
        try:
            result = tasks_purge_finished(older_than=parse_duration(options["older_than"]), dry_run=options["dry_run"])
        except DomainError as exc:
            raise CommandError(exc.message) from exc
        verb = "would delete" if result.dry_run else "deleted"
        detail = ", ".join(f"{status} {n}" for status, n in sorted(result.by_status.items())) or "none"
        self.stdout.write(
            f"{verb} {result.total} finished task(s) older than {result.cutoff.isoformat()} ({detail}); "
            "pending and running tasks are never purged"
        )
