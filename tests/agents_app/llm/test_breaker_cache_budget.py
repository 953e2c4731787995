"""Circuit breaker, response cache with product invalidation, and budgets."""

from __future__ import annotations

import time
from decimal import Decimal

import pytest

from agents_app.llm import cache as response_cache
from agents_app.llm.breaker import CLOSED, HALF_OPEN, OPEN, ProviderBreaker
from agents_app.llm.budget import agent_budget_set, budget_reserve, prompt_token_bound, today
from agents_app.llm.exceptions import AllProvidersFailed, BudgetExceeded
from agents_app.llm.gateway import complete, provider_call
from agents_app.llm.models import DailyBudget, SpendLedgerEntry
from agents_app.llm.providers import ProviderConfig
from agents_app.llm.state import LocalState
from agents_app.llm.types import ChatMessage, CompletionRequest
from devskyy.core.metrics import CACHE_HITS, LLM_CALLS
from tests.support.llm_servers import anthropic_text, openai_error, openai_text

pytestmark = pytest.mark.django_db


def ask(text: str = "Describe the Noir hoodie.", **kwargs: object) -> CompletionRequest:
    return CompletionRequest(messages=[ChatMessage(role="user", content=text)], **kwargs)  # type: ignore[arg-type]


# --- circuit breaker ---------------------------------------------------------------


def test_breaker_opens_after_consecutive_failures_and_skips_the_provider(servers, providers, settings) -> None:
    settings.LLM_BREAKER_FAILURES = 2
    primary, backup = servers("openai"), servers("anthropic")
    primary.queue(openai_error(503), openai_error(503))
    backup.responder = lambda request: anthropic_text("backup")
    providers(openai=primary, anthropic=backup)

    complete(ask("one"))
    complete(ask("two"))
    assert ProviderBreaker("openai").status() == OPEN

    result = complete(ask("three"))

    assert primary.request_count == 2  # the third request never reached the open provider
    assert result.provider == "anthropic"
    assert result.attempts[0].outcome == "circuit_open"


def test_a_success_resets_the_consecutive_failure_count(servers, providers, settings) -> None:
    settings.LLM_BREAKER_FAILURES = 2
    primary, backup = servers("openai"), servers("anthropic")
    primary.queue(openai_error(500), openai_text("fine"), openai_error(500))
    backup.responder = lambda request: anthropic_text("backup")
    providers(openai=primary, anthropic=backup)

    for n in range(3):
        complete(ask(f"q{n}"))

    assert ProviderBreaker("openai").status() == CLOSED


def test_permanent_errors_do_not_open_the_breaker(servers, providers, settings) -> None:
    from agents_app.llm.exceptions import ProviderRejected

    settings.LLM_BREAKER_FAILURES = 1
    server = servers("openai")
    server.queue(openai_error(400))
    providers(openai=server)
    with pytest.raises(ProviderRejected):
        complete(ask())
    assert ProviderBreaker("openai").status() == CLOSED


def test_half_open_probe_success_closes_the_circuit(servers, providers, settings) -> None:
    settings.LLM_BREAKER_FAILURES = 1
    settings.LLM_BREAKER_COOLDOWN_SECONDS = 0.2
    primary, backup = servers("openai"), servers("anthropic")
    primary.queue(openai_error(502), openai_text("recovered"), openai_text("steady"))
    backup.responder = lambda request: anthropic_text("backup")
    providers(openai=primary, anthropic=backup)

    assert complete(ask("a")).provider == "anthropic"
    assert complete(ask("b")).provider == "anthropic"  # open: skipped
    assert primary.request_count == 1
    time.sleep(0.25)
    assert ProviderBreaker("openai").status() == HALF_OPEN

    probe = complete(ask("c"))

    assert probe.provider == "openai"
    assert probe.text == "recovered"
    assert ProviderBreaker("openai").status() == CLOSED
    assert complete(ask("d")).provider == "openai"


def test_half_open_probe_failure_reopens_for_another_cooldown(servers, providers, settings) -> None:
    settings.LLM_BREAKER_FAILURES = 1
    settings.LLM_BREAKER_COOLDOWN_SECONDS = 0.2
    primary, backup = servers("openai"), servers("anthropic")
    primary.queue(openai_error(500), openai_error(500))
    backup.responder = lambda request: anthropic_text("backup")
    providers(openai=primary, anthropic=backup)

    complete(ask("a"))
    time.sleep(0.25)
    complete(ask("b"))  # the probe, fails

    assert primary.request_count == 2
    assert ProviderBreaker("openai").status() == OPEN
    complete(ask("c"))
    assert primary.request_count == 2


def test_only_one_caller_gets_the_half_open_probe() -> None:
    state = LocalState()
    first = ProviderBreaker("groq", state=state, threshold=1, cooldown=0.05)
    other_process = ProviderBreaker("groq", state=state, threshold=1, cooldown=0.05)
    first.record_failure()
    assert first.allow() is False
    time.sleep(0.06)

    assert first.allow() is True
    assert other_process.allow() is False  # probe already claimed
    first.record_success()
    assert other_process.allow() is True


def test_every_provider_open_gives_all_providers_failed(servers, providers, settings) -> None:
    settings.LLM_BREAKER_FAILURES = 1
    server = servers("openai")
    server.queue(openai_error(500))
    providers(openai=server)
    with pytest.raises(AllProvidersFailed):
        complete(ask("x"))
    with pytest.raises(AllProvidersFailed, match="circuit"):
        complete(ask("y"))
    assert server.request_count == 1


# --- response cache ----------------------------------------------------------------


def test_a_repeated_request_is_served_from_cache_without_an_upstream_call(servers, providers) -> None:
    server = servers("openai")
    server.queue(openai_text("The Noir hoodie is heavyweight cotton.", prompt_tokens=40, completion_tokens=12))
    providers(openai=server)
    hits_before = CACHE_HITS._value.get()
    cache_hits_metric = LLM_CALLS.labels("openai", "cache_hit")._value.get()

    first = complete(ask())
    second = complete(ask())

    assert server.request_count == 1
    assert first.cached is False
    assert second.cached is True
    assert second.text == first.text
    assert second.cost_usd == 0
    assert (second.usage.prompt_tokens, second.usage.completion_tokens) == (40, 12)
    assert SpendLedgerEntry.objects.count() == 1  # a hit spends nothing and writes no row
    assert CACHE_HITS._value.get() > hits_before  # counted in redis_cache_hits
    assert LLM_CALLS.labels("openai", "cache_hit")._value.get() == cache_hits_metric + 1


def test_use_cache_false_bypasses_the_cache(servers, providers) -> None:
    server = servers("openai")
    server.responder = lambda request: openai_text("fresh")
    providers(openai=server)

    complete(ask())
    complete(ask(use_cache=False))

    assert server.request_count == 2


def test_different_parameters_are_different_cache_entries(servers, providers) -> None:
    server = servers("openai")
    server.responder = lambda request: openai_text("answer")
    providers(openai=server)

    complete(ask(temperature=0.1))
    complete(ask(temperature=0.9))
    complete(ask(max_tokens=64))

    assert server.request_count == 3


def test_invalidating_a_product_drops_only_the_answers_that_used_it(servers, providers) -> None:
    server = servers("openai")
    server.queue(openai_text("Hoodie: 89 USD"), openai_text("Cap: 35 USD"), openai_text("Hoodie: 79 USD"))
    providers(openai=server)
    hoodie = ask("Price of the hoodie?", product_ids=[101])
    cap = ask("Price of the cap?", product_ids=[202])

    complete(hoodie)
    complete(cap)
    assert complete(hoodie).cached is True

    assert response_cache.invalidate_products([101]) == 1
    after_change = complete(hoodie)

    assert after_change.cached is False
    assert after_change.text == "Hoodie: 79 USD"
    assert complete(cap).cached is True  # untouched product, still cached
    assert server.request_count == 3


def test_a_lost_product_version_never_resurrects_an_old_answer(servers, providers) -> None:
    from django.core.cache import cache

    server = servers("openai")
    server.queue(openai_text("old price"), openai_text("new price"))
    providers(openai=server)
    request = ask("Price?", product_ids=[7])
    complete(request)
    cache.delete("llm:pv:7")  # evicted or expired version token

    assert complete(request).text == "new price"


def test_cache_keys_differ_by_provider_and_model() -> None:
    config = ProviderConfig("openai", "openai", "k", "", "gpt-4o-mini", 100, "env")
    call = provider_call(ask(), config)
    key = response_cache.response_key(call=call, provider="openai", versions={})
    assert key != response_cache.response_key(call=call, provider="groq", versions={})
    other_model = provider_call(ask(provider="openai", model="gpt-4o"), config)
    assert key != response_cache.response_key(call=other_model, provider="openai", versions={})
    assert key != response_cache.response_key(call=call, provider="openai", versions={"1": "abc"})


# --- budgets -------------------------------------------------------------------------


def test_a_call_over_the_agents_budget_is_refused_before_any_request(servers, providers) -> None:
    server = servers("openai")
    providers(openai=server)
    agent_budget_set(agent_slug="marketing-001", daily_limit_usd=Decimal("0.0001"))

    with pytest.raises(BudgetExceeded) as caught:
        complete(ask(agent_slug="marketing-001", max_tokens=1000))

    assert server.request_count == 0
    assert "marketing-001" in caught.value.message
    assert "0.0001" in caught.value.message
    assert caught.value.status_code == 402


def test_budget_is_settled_to_the_actual_cost(servers, providers, settings) -> None:
    settings.LLM_DAILY_BUDGET_USD = Decimal("1.00")
    server = servers("openai")
    server.queue(openai_text("ok", prompt_tokens=1000, completion_tokens=1000))
    providers(openai=server)

    result = complete(ask(agent_slug="support-001"))

    row = DailyBudget.objects.get(agent_slug="support-001", day=today())
    assert row.limit_usd == Decimal("1.00")
    assert row.reserved_usd == 0
    assert row.spent_usd == result.cost_usd == Decimal("0.00075")


def test_a_failed_call_releases_its_reservation(servers, providers) -> None:
    server = servers("openai")
    server.queue(openai_error(500))
    providers(openai=server)

    with pytest.raises(AllProvidersFailed):
        complete(ask(agent_slug="ops-001"))

    row = DailyBudget.objects.get(agent_slug="ops-001")
    assert row.reserved_usd == 0
    assert row.spent_usd == 0


def test_spent_budget_refuses_further_calls(servers, providers, settings) -> None:
    settings.LLM_DAILY_BUDGET_USD = Decimal("0.01")
    server = servers("openai")
    # One call reports 20k output tokens: 0.012 USD, more than the whole limit.
    server.queue(openai_text("long", prompt_tokens=10, completion_tokens=20_000))
    providers(openai=server)

    complete(ask(agent_slug="analytics-001", max_tokens=100))
    with pytest.raises(BudgetExceeded):
        complete(ask("next", agent_slug="analytics-001", max_tokens=100))
    assert server.request_count == 1


def test_reservations_add_up_to_at_most_the_limit() -> None:
    agent_budget_set(agent_slug="commerce-001", daily_limit_usd=Decimal("1.00"))
    admitted = 0
    for _ in range(5):
        try:
            budget_reserve(agent_slug="commerce-001", amount=Decimal("0.30"))
            admitted += 1
        except BudgetExceeded:
            pass
    assert admitted == 3
    assert DailyBudget.objects.get(agent_slug="commerce-001").reserved_usd == Decimal("0.9")


def test_calls_without_an_agent_count_against_the_platform_budget(servers, providers) -> None:
    server = servers("openai")
    server.queue(openai_text("ok", prompt_tokens=100, completion_tokens=100))
    providers(openai=server)
    complete(ask())
    assert DailyBudget.objects.get(agent_slug="platform").spent_usd > 0


def test_prompt_bound_is_at_least_the_utf8_size() -> None:
    config = ProviderConfig("openai", "openai", "k", "", "gpt-4o-mini", 100, "env")
    text = "Prix: 89 € — naïve café " * 50
    call = provider_call(ask(text), config)
    assert prompt_token_bound(call) >= len(text.encode())


def test_free_local_calls_need_no_budget(servers, providers, settings) -> None:
    settings.LLM_DAILY_BUDGET_USD = Decimal("0")
    server = servers("openai")
    server.responder = lambda request: openai_text("local answer")
    providers(local=server)

    assert complete(ask(agent_slug="creative-001")).text == "local answer"
