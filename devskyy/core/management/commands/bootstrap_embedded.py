from __future__ import annotations

from typing import Any

from django.conf import settings
from django.core.management import call_command
from django.core.management.base import BaseCommand

from devskyy.core.accounts import operator_create, operator_exists


class Command(BaseCommand):
    help = "First-run set-up for `make run`: seed data and create an operator login if none exists."

    def handle(self, *args: Any, **options: Any) -> None:
        for seed in getattr(settings, "EMBEDDED_SEED_COMMANDS", []):
            call_command(seed, stdout=self.stdout)
        if operator_exists():
            self.stdout.write("An operator account already exists; log in with it (or run create_operator).")
            return
        created = operator_create(username="operator")
        base = "http://127.0.0.1:8000"
        self.stdout.write("")
        self.stdout.write(self.style.SUCCESS("Operator login (shown once, stored hashed):"))
        self.stdout.write(f"  admin:    {base}/{settings.ADMIN_URL}")
        self.stdout.write("  username: operator")
        self.stdout.write(f"  password: {created.password}")
        self.stdout.write("")
