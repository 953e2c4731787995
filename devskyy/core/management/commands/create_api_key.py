from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from devskyy.core.api_keys import api_key_create
from devskyy.core.errors import DomainError
from devskyy.core.roles import Role


class Command(BaseCommand):
    help = "Create an API key for a service client. Prints the key once; only its hash is stored."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--name", required=True, help="what the key is for (1-50 characters)")
        parser.add_argument("--role", required=True, choices=[r.value for r in Role])
        parser.add_argument("--expires-days", type=int, default=None, help="days until it expires (default: never)")

    def handle(self, *args: Any, **options: Any) -> None:
        try:
            created = api_key_create(name=options["name"], role=options["role"], expires_days=options["expires_days"])
        except DomainError as exc:
            raise CommandError(exc.message) from exc
        key = created.api_key
        expiry = key.expiry_date.isoformat() if key.expiry_date else "never"
        self.stdout.write(f"Created API key {key.prefix} ({key.name!r}, role {key.role}, expires {expiry}).")
        self.stdout.write(f"Key (shown once, store it now): {created.key}")
