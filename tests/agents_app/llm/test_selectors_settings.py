"""Ledger and budget reads; the LLM settings refuse what they cannot interpret."""

from __future__ import annotations

from decimal import Decimal

import pytest

from agents_app.llm.budget import agent_budget_set
from agents_app.llm.gateway import complete
from agents_app.llm.selectors import budget_status, spend_totals
from agents_app.llm.types import ChatMessage, CompletionRequest
from devskyy.core.env import ConfigError
from devskyy.settings.llm import _price_overrides
from tests.support.llm_servers import openai_error, openai_text


@pytest.mark.django_db
def test_spend_totals_and_budget_status_follow_the_ledger(servers, providers) -> None:
    first, second = servers("openai"), servers("openai", prefix="/openai/v1")
    first.queue(openai_error(500), openai_text("b", prompt_tokens=1000, completion_tokens=1000))
    second.queue(openai_text("a", prompt_tokens=100, completion_tokens=10))
    providers(openai=first, groq=second)
    agent_budget_set(agent_slug="support-001", daily_limit_usd=Decimal("2"))
    for text in ("one", "two"):
        complete(
            CompletionRequest(
                messages=[ChatMessage(role="user", content=text)], agent_slug="support-001", task_id="t-7"
            )
        )

    totals = spend_totals(task_id="t-7")
    assert totals["calls"] == 3  # failed openai, groq, openai
    assert totals["failed_calls"] == 1
    assert (totals["prompt_tokens"], totals["completion_tokens"]) == (1100, 1010)
    # groq 100 x 0.05 + 10 x 0.08; openai 1000 x 0.15 + 1000 x 0.60 (per 1M)
    assert totals["amount_usd"] == Decimal("0.0000058") + Decimal("0.00075")
    status = budget_status("support-001")
    assert status["limit_usd"] == Decimal("2")
    assert status["spent_usd"] == totals["amount_usd"]
    assert status["remaining_usd"] == Decimal("2") - totals["amount_usd"]


@pytest.mark.django_db
def test_budget_status_before_any_call_uses_the_default(settings) -> None:
    settings.LLM_DAILY_BUDGET_USD = Decimal("3.50")
    assert budget_status("analytics-001")["remaining_usd"] == Decimal("3.50")


def test_price_overrides_are_validated() -> None:
    assert _price_overrides('{"openai": {"gpt-5": [1.25, 10]}}') == {"openai": {"gpt-5": ("1.25", "10")}}
    for bad in ("[1]", '{"openai": {"m": [1]}}', '{"openai": {"m": ["x", 1]}}', '{"openai": {"m": [-1, 1]}}', "{"):
        with pytest.raises(ConfigError, match="LLM_PRICES_JSON"):
            _price_overrides(bad)
