"""``manage.py check_providers``: one small real call per enabled LLM provider."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from agents_app.llm.exceptions import ProviderError
from agents_app.llm.gateway import probe_provider
from agents_app.llm.routing import enabled_providers


class Command(BaseCommand):
    help = "Make one cheap real call to each enabled LLM provider; exit non-zero if any fails."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--provider", action="append", default=[], help="Check only this provider (repeatable).")
        parser.add_argument(
            "--timeout", type=float, default=None, help="Seconds per call (default LLM_TIMEOUT_SECONDS)."
        )

    def handle(self, *args: Any, **options: Any) -> None:
        wanted: list[str] = options["provider"]
        configs = [c for c in enabled_providers() if not wanted or c.name in wanted]
        if not configs:
            raise CommandError(
                "No LLM provider is enabled"
                + (f" among {', '.join(wanted)}" if wanted else "")
                + ": set an API key such as OPENAI_API_KEY (or LOCAL_LLM_BASE_URL), or add a provider credential."
            )
        failed = []
        for config in configs:
            label = f"{config.name:<10} {config.default_model:<28}"
            try:
                completion = probe_provider(config.name, timeout=options["timeout"])
            except ProviderError as error:
                failed.append(config.name)
                kind = "transient" if error.transient else "permanent"
                status = f"HTTP {error.status} " if error.status else ""
                self.stdout.write(f"{label} FAIL  {status}({kind}) {error.message}")
                continue
            self.stdout.write(
                f"{label} ok    {completion.latency_ms} ms, "
                f"{completion.usage.prompt_tokens}+{completion.usage.completion_tokens} tokens, "
                f"{completion.cost_usd} USD"
            )
        if failed:
            raise CommandError(f"{len(failed)} of {len(configs)} providers failed: {', '.join(failed)}")
        self.stdout.write(f"all {len(configs)} enabled providers answered")
