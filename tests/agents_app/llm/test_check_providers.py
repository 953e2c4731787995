"""``manage.py check_providers``: one real call per enabled provider, non-zero on failure."""

from __future__ import annotations

from io import StringIO

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError

from agents_app.llm.models import SpendLedgerEntry
from tests.support.llm_servers import anthropic_error, anthropic_text, openai_text

pytestmark = pytest.mark.django_db


def test_it_prints_a_line_per_provider_with_its_latency(servers, providers) -> None:
    oa, an = servers("openai"), servers("anthropic")
    oa.queue(openai_text("OK", prompt_tokens=14, completion_tokens=1))
    an.queue(anthropic_text("OK", input_tokens=15, output_tokens=2))
    providers(openai=oa, anthropic=an)
    out = StringIO()

    call_command("check_providers", stdout=out)

    lines = out.getvalue().splitlines()
    assert lines[0].startswith("openai")
    assert " ok " in lines[0]
    assert " ms, 14+1 tokens" in lines[0]
    assert lines[1].startswith("anthropic")
    assert " ok " in lines[1]
    assert lines[-1] == "all 2 enabled providers answered"
    assert oa.requests[0].json["max_completion_tokens"] == 16
    assert set(SpendLedgerEntry.objects.values_list("purpose", flat=True)) == {"check_providers"}


def test_it_exits_non_zero_and_names_the_failing_provider(servers, providers) -> None:
    oa, an = servers("openai"), servers("anthropic")
    oa.queue(openai_text("OK"))
    an.queue(anthropic_error(401, "invalid x-api-key"))
    providers(openai=oa, anthropic=an)
    out = StringIO()

    with pytest.raises(CommandError, match="1 of 2 providers failed: anthropic"):
        call_command("check_providers", stdout=out)

    lines = out.getvalue().splitlines()
    assert " ok " in lines[0]
    assert lines[1].startswith("anthropic")
    assert "FAIL  HTTP 401 (permanent) invalid x-api-key" in lines[1]


def test_with_no_provider_it_fails_with_a_clear_message() -> None:
    with pytest.raises(CommandError, match="No LLM provider is enabled"):
        call_command("check_providers", stdout=StringIO())
