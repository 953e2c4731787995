from __future__ import annotations

from datetime import datetime
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from commerce_app.outbox import outbox_push
from commerce_app.sync import shop_sync
from devskyy.core.errors import DomainError


def _moment(value: str) -> datetime:
    try:
        moment = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        raise CommandError(f"--since: {value!r} is not an ISO-8601 moment (e.g. 2024-05-01T00:00:00Z).") from None
    if moment.tzinfo is None:
        raise CommandError("--since needs a timezone (e.g. 2024-05-01T00:00:00Z or +00:00).")
    return moment


class Command(BaseCommand):
    help = (
        "Import products (with variations), customers and orders from WooCommerce: everything (--full), "
        "what changed after a moment (--since), or by default what changed after the last sync. "
        "Pending local changes are pushed first unless --no-push."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        mode = parser.add_mutually_exclusive_group()
        mode.add_argument("--full", action="store_true", help="import everything")
        mode.add_argument("--since", help="ISO-8601 moment with timezone: import what changed after it")
        parser.add_argument(
            "--entity", action="append", choices=["products", "customers", "orders"], help="limit to an entity"
        )
        parser.add_argument("--no-push", action="store_true", help="do not push the outbox first")

    def handle(self, *args: Any, **options: Any) -> None:
        since = _moment(options["since"]) if options["since"] else None
        try:
            if not options["no_push"]:
                pushed = outbox_push()
                self.stdout.write(
                    f"outbox: {pushed.applied} applied, {pushed.already_applied} already applied, "
                    f"{pushed.failed} failed, {pushed.pending} still pending"
                )
            report = shop_sync(
                full=options["full"],
                since=since,
                entities=options["entity"] or ("products", "customers", "orders"),
                actor_label="system:command",
            )
        except DomainError as exc:
            raise CommandError(exc.message) from exc
        for name, entity in report.entities.items():
            self.stdout.write(
                f"{name}: {entity.fetched} fetched, {entity.created} created, {entity.updated} updated, "
                f"{entity.unchanged} unchanged, {entity.stale} stale, {entity.conflicts} conflicts, "
                f"{entity.errors} errors"
            )
        for hook in report.disabled_webhooks:
            self.stdout.write(
                f"webhook {hook['id']} ({hook['topic']}) is {hook['status']}: gap backfilled by this sync"
            )
        for conflict in report.conflicts[:20]:
            self.stdout.write(f"conflict: {conflict}")
        self.stdout.write(f"{report.mode} sync finished in {report.seconds:.2f}s (run {report.run_id})")
