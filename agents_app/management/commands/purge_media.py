"""``manage.py purge_media --older-than 90d``: delete the stored files of old media jobs."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from agents_app.media.services.retention import media_files_purge
from agents_app.services.maintenance import parse_duration
from devskyy.core.errors import DomainError


class Command(BaseCommand):
    help = (
        "Delete the stored files (3D models, previews, try-on images) of media jobs that finished longer ago than "
        "--older-than (e.g. 90d). Job and file records and the spend ledger are kept; downloads then answer 410."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--older-than", required=True, help="age such as 90m, 12h, 30d or 2w")
        parser.add_argument("--dry-run", action="store_true", help="only count what would be deleted")

    def handle(self, *args: Any, **options: Any) -> None:
        try:
            result = media_files_purge(older_than=parse_duration(options["older_than"]), dry_run=options["dry_run"])
        except DomainError as exc:
            raise CommandError(exc.message) from exc
        verb = "would delete" if result.dry_run else "deleted"
        self.stdout.write(
            f"{verb} {result.files} stored file(s), {result.bytes} bytes, of {result.jobs} media job(s) finished "
            f"before {result.cutoff.isoformat()}; job and file records are kept, active jobs are never touched"
        )
        if result.error:
            raise CommandError(f"Stopped early: {result.error}. The rest is left for the next run.")
