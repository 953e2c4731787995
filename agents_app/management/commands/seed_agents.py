from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError

from agents_app.services.agents import agents_seed
from devskyy.core.errors import DomainError


class Command(BaseCommand):
    help = "Create or update the 54-agent catalog (update_or_create by slug; idempotent)."

    def handle(self, *args: Any, **options: Any) -> None:
        try:
            result = agents_seed()
        except DomainError as exc:
            raise CommandError(exc.message) from exc
        self.stdout.write(f"agents: {result.created} created, {result.updated} updated, {result.total} in total")
