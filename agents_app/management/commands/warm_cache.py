"""``manage.py warm_cache``: fill the shared cache ahead of traffic and say what was done."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError

from agents_app.services.maintenance import cache_warm
from devskyy.core.errors import DomainError


class Command(BaseCommand):
    help = "Check the shared cache answers and create the per-product LLM cache version tokens."

    def handle(self, *args: Any, **options: Any) -> None:
        try:
            report = cache_warm()
        except DomainError as exc:
            raise CommandError(exc.message) from exc
        self.stdout.write(f"cache backend: {report.backend}")
        for step in report.steps:
            self.stdout.write(f"  {step}")
