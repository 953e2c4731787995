from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from devskyy.core.accounts import operator_create
from devskyy.core.errors import ConflictError


class Command(BaseCommand):
    help = "Create an operator account (roles operator and admin, admin site access). Prints a generated password once."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--username", default="operator")
        parser.add_argument("--email", default="")

    def handle(self, *args: Any, **options: Any) -> None:
        try:
            created = operator_create(username=options["username"], email=options["email"])
        except ConflictError as exc:
            raise CommandError(exc.message) from exc
        self.stdout.write(f"Created operator {options['username']!r}; password (shown once): {created.password}")
