from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from agents_app.marketing.services import campaigns_dispatch_due


class Command(BaseCommand):
    help = (
        "Send every marketing campaign that is due (scheduled with send_at in the past, or left 'sending' by a "
        "dispatcher that stopped). What celery beat does every MARKETING_DISPATCH_INTERVAL_SECONDS; for embedded "
        "mode and operators. Safe to run any time: each campaign and message is claimed before it is sent."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--limit", type=int, default=50, help="at most this many campaigns (default 50)")

    def handle(self, *args: Any, **options: Any) -> None:
        if options["limit"] < 1:
            raise CommandError("--limit must be at least 1.")
        report = campaigns_dispatch_due(limit=options["limit"])
        failed = []
        for sent in report.reports:
            counts = ", ".join(f"{n} {status}" for status, n in sorted(sent.counts.items())) or "no messages"
            self.stdout.write(f"campaign {sent.campaign_id}: {sent.status or sent.outcome} ({counts})")
            if sent.status == "failed":
                failed.append(sent.campaign_id)
        self.stdout.write(f"{report.due} due, {len(report.reports)} sent by this run")
        if failed:
            raise CommandError(f"every message failed for campaign(s) {', '.join(failed)} (see their error)")
