"""On real PostgreSQL and Redis: budgets under concurrency, shared breaker, Redis cache."""

from __future__ import annotations

import threading
from decimal import Decimal

import pytest
from django.db import connection

from agents_app.llm import cache as response_cache
from agents_app.llm.breaker import OPEN, ProviderBreaker
from agents_app.llm.budget import agent_budget_set, budget_reserve, estimate_cost
from agents_app.llm.exceptions import BudgetExceeded
from agents_app.llm.gateway import complete, provider_call
from agents_app.llm.models import DailyBudget, SpendLedgerEntry
from agents_app.llm.pricing import price_for
from agents_app.llm.routing import enabled_providers
from agents_app.llm.state import RedisState, shared_state
from agents_app.llm.types import ChatMessage, CompletionRequest
from tests.support.llm_servers import Reply, openai_text

pytestmark = pytest.mark.services


def _in_threads(count: int, work) -> list[object]:
    barrier = threading.Barrier(count)
    results: list[object] = [None] * count

    def run(index: int) -> None:
        try:
            barrier.wait(timeout=10)
            results[index] = work(index)
        except Exception as exc:  # noqa: BLE001 - the test inspects what each thread got
            results[index] = exc
        finally:
            connection.close()

    threads = [threading.Thread(target=run, args=(i,)) for i in range(count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    return results


@pytest.mark.django_db(transaction=True)
def test_concurrent_reservations_never_exceed_the_limit() -> None:
    assert connection.vendor == "postgresql"
    agent_budget_set(agent_slug="commerce-001", daily_limit_usd=Decimal("1.00"))

    results = _in_threads(8, lambda i: budget_reserve(agent_slug="commerce-001", amount=Decimal("0.30")))

    admitted = [r for r in results if not isinstance(r, Exception)]
    refused = [r for r in results if isinstance(r, BudgetExceeded)]
    assert len(admitted) == 3
    assert len(refused) == 5
    row = DailyBudget.objects.get(agent_slug="commerce-001")
    assert row.reserved_usd == Decimal("0.90")
    assert row.reserved_usd + row.spent_usd <= row.limit_usd


@pytest.mark.django_db(transaction=True)
def test_concurrent_gateway_calls_stop_at_the_budget(servers, providers) -> None:
    server = servers("openai")
    # Each answer takes 1 s, so all six calls hold their reservations at the same time.
    server.responder = lambda request: Reply(
        delay=1.0, body=openai_text("ok", prompt_tokens=10, completion_tokens=10).body
    )
    providers(openai=server)
    request = CompletionRequest(
        messages=[ChatMessage(role="user", content="Tagline for the Sage cap.")],
        agent_slug="marketing-001",
        max_tokens=2000,
        use_cache=False,
    )
    bound = estimate_cost(provider_call(request, enabled_providers()[0]), price_for("openai", "gpt-4o-mini"))
    # Room for exactly two upper-bound reservations at a time.
    agent_budget_set(agent_slug="marketing-001", daily_limit_usd=(bound * 2 + bound / 2).quantize(Decimal("0.0001")))

    results = _in_threads(6, lambda i: complete(request))

    ok = [r for r in results if not isinstance(r, Exception)]
    refused = [r for r in results if isinstance(r, BudgetExceeded)]
    assert len(ok) == 2
    assert len(refused) == 4
    assert server.request_count == 2
    row = DailyBudget.objects.get(agent_slug="marketing-001")
    assert row.reserved_usd == 0
    assert row.spent_usd == sum(r.amount for r in SpendLedgerEntry.objects.filter(agent_slug="marketing-001"))


@pytest.mark.django_db
def test_breaker_state_is_shared_through_redis() -> None:
    state = shared_state()
    assert isinstance(state, RedisState)
    worker_a = ProviderBreaker("mistral", threshold=2, cooldown=30)
    worker_b = ProviderBreaker("mistral", threshold=2, cooldown=30)  # as another process would build it

    worker_a.record_failure()
    worker_b.record_failure()

    assert worker_a.status() == OPEN
    assert worker_b.allow() is False
    from django.conf import settings
    from django_redis import get_redis_connection

    assert get_redis_connection("default").exists(f"{settings.CACHE_KEY_PREFIX}:llm:breaker:mistral:open_until")


@pytest.mark.django_db
def test_cache_hit_and_product_invalidation_on_redis(servers, providers) -> None:
    server = servers("openai")
    server.queue(openai_text("Hoodie: 89 USD"), openai_text("Hoodie: 79 USD"))
    providers(openai=server)
    request = CompletionRequest(messages=[ChatMessage(role="user", content="Hoodie price?")], product_ids=[5])

    assert complete(request).cached is False
    assert complete(request).cached is True
    response_cache.invalidate_products([5])
    assert complete(request).text == "Hoodie: 79 USD"
    assert server.request_count == 2
