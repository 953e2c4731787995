"""The gateway through the real SDKs against loopback provider servers: adapters,
accounting, routing, fallback, errors."""

from __future__ import annotations

import time
from decimal import Decimal

import pytest

from agents_app.llm.exceptions import AllProvidersFailed, NoProviderConfigured, ProviderRejected
from agents_app.llm.gateway import complete
from agents_app.llm.models import ProviderCredential, SpendLedgerEntry
from agents_app.llm.routing import enabled_providers, record_latency, route
from agents_app.llm.services import provider_credential_save
from agents_app.llm.types import ChatMessage, CompletionRequest, ToolSpec
from devskyy.core.metrics import LLM_CALLS, LLM_COST, LLM_TOKENS
from tests.support.llm_servers import (
    Reply,
    anthropic_error,
    anthropic_text,
    openai_error,
    openai_text,
)

pytestmark = pytest.mark.django_db


def ask(text: str = "Name one colour.", **kwargs: object) -> CompletionRequest:
    return CompletionRequest(messages=[ChatMessage(role="user", content=text)], **kwargs)  # type: ignore[arg-type]


def metric(counter: object, *labels: str) -> float:
    return counter.labels(*labels)._value.get()  # type: ignore[attr-defined]


def test_openai_answer_is_parsed_and_priced_from_reported_usage(servers, providers) -> None:
    server = servers("openai")
    server.queue(openai_text("Ivory.", prompt_tokens=1000, completion_tokens=500, model="gpt-4o-mini-2024-07-18"))
    providers(openai=server)
    tokens_before = metric(LLM_TOKENS, "openai", "prompt")
    cost_before = metric(LLM_COST, "openai")

    result = complete(ask(agent_slug="creative-001", task_id="t-1", purpose="caption", temperature=0.3))

    assert result.text == "Ivory."
    assert result.finish_reason == "stop"
    assert (result.usage.prompt_tokens, result.usage.completion_tokens) == (1000, 500)
    assert result.provider == "openai"
    assert result.model == "gpt-4o-mini-2024-07-18"
    # gpt-4o-mini: 0.15 USD/1M in, 0.60 USD/1M out
    assert result.cost_usd == Decimal("0.00045")
    sent = server.requests[0]
    assert sent.path == "/v1/chat/completions"
    assert sent.headers["authorization"] == "Bearer test-key-openai"
    assert sent.json["model"] == "gpt-4o-mini"
    assert sent.json["messages"] == [{"role": "user", "content": "Name one colour."}]
    assert sent.json["max_completion_tokens"] == 1024
    assert sent.json["temperature"] == 0.3
    row = SpendLedgerEntry.objects.get()
    assert (row.kind, row.provider, row.amount, row.currency) == ("llm", "openai", Decimal("0.00045"), "USD")
    assert (row.source, row.price_source, row.outcome) == ("provider_usage", "price_table", "ok")
    assert (row.prompt_tokens, row.completion_tokens) == (1000, 500)
    assert (row.agent_slug, row.task_id, row.purpose) == ("creative-001", "t-1", "caption")
    assert row.latency_ms is not None
    assert metric(LLM_TOKENS, "openai", "prompt") - tokens_before == 1000
    assert metric(LLM_COST, "openai") - cost_before == pytest.approx(0.00045)


def test_anthropic_answer_goes_through_the_messages_api(servers, providers) -> None:
    server = servers("anthropic")
    server.queue(anthropic_text("Noir.", input_tokens=2000, output_tokens=100, model="claude-3-5-haiku-20241022"))
    providers(anthropic=server)

    result = complete(
        CompletionRequest(
            messages=[
                ChatMessage(role="system", content="You are terse."),
                ChatMessage(role="user", content="Name one colour."),
            ],
            max_tokens=50,
            temperature=0.2,
        )
    )

    assert (result.text, result.finish_reason, result.provider) == ("Noir.", "end_turn", "anthropic")
    assert (result.usage.prompt_tokens, result.usage.completion_tokens) == (2000, 100)
    # claude-3-5-haiku-latest: 0.80 in, 4.00 out per 1M
    assert result.cost_usd == Decimal("0.002")
    sent = server.requests[0]
    assert sent.path == "/v1/messages"
    assert sent.json["system"] == "You are terse."
    assert sent.json["messages"] == [{"role": "user", "content": "Name one colour."}]
    assert sent.json["max_tokens"] == 50
    assert sent.json["temperature"] == 0.2
    assert sent.json["model"] == "claude-3-5-haiku-latest"


@pytest.mark.parametrize(
    ("provider", "prefix", "model"),
    [
        ("groq", "/openai/v1", "llama-3.1-8b-instant"),
        ("google", "/v1beta/openai", "gemini-2.0-flash"),
        ("mistral", "/v1", "mistral-small-latest"),
        ("cohere", "/compatibility/v1", "command-r"),
        ("local", "/v1", "llama3.2"),
    ],
)
def test_openai_compatible_providers_use_their_prefix_and_max_tokens(
    servers, providers, provider, prefix, model
) -> None:
    server = servers("openai", prefix=prefix)
    server.queue(openai_text("Sage."))
    providers(**{provider: server})

    result = complete(ask())

    assert result.provider == provider
    sent = server.requests[0]
    assert sent.path == f"{prefix}/chat/completions"
    assert sent.json["model"] == model
    assert sent.json["max_tokens"] == 1024
    assert "max_completion_tokens" not in sent.json


def test_unknown_model_is_priced_at_the_provider_default_and_marked(servers, providers) -> None:
    server = servers("openai")
    server.queue(openai_text("x", prompt_tokens=1_000_000, completion_tokens=0))
    providers(openai=server)

    result = complete(ask(provider="openai", model="some-new-model"))

    assert result.price_source == "provider_default"
    assert result.cost_usd == Decimal("2.5")  # openai default: 2.50 USD per 1M input tokens
    assert SpendLedgerEntry.objects.get().price_source == "provider_default"


def test_missing_usage_is_recorded_as_missing_not_estimated(servers, providers) -> None:
    server = servers("openai", prefix="/v1")
    reply = openai_text("x")
    del reply.body["usage"]
    server.queue(reply)
    providers(local=server)

    result = complete(ask())

    assert result.usage.reported is False
    row = SpendLedgerEntry.objects.get()
    assert row.prompt_tokens is None
    assert row.completion_tokens is None
    assert row.price_source == "usage_not_reported"
    assert row.amount == 0


@pytest.mark.parametrize("failure", [openai_error(429), openai_error(500), openai_error(503)])
def test_transient_errors_fall_back_to_the_next_provider(servers, providers, failure) -> None:
    first, second = servers("openai"), servers("anthropic")
    first.queue(failure)
    second.queue(anthropic_text("Fallback answer."))
    providers(openai=first, anthropic=second)

    result = complete(ask())

    assert (result.provider, result.text) == ("anthropic", "Fallback answer.")
    assert [a.outcome for a in result.attempts] == ["transient_error", "ok"]
    assert result.attempts[0].status == failure.status
    rows = {r.provider: r for r in SpendLedgerEntry.objects.all()}
    assert rows["openai"].outcome == "error"
    assert rows["openai"].amount == 0
    assert rows["anthropic"].outcome == "ok"


def test_a_timeout_falls_back_within_the_per_call_timeout(servers, providers) -> None:
    slow, fast = servers("openai"), servers("openai", prefix="/openai/v1")
    slow.queue(Reply(delay=1.5, body=openai_text("too late").body))
    fast.queue(openai_text("On time."))
    providers(openai=slow, groq=fast)

    started = time.perf_counter()
    result = complete(ask(timeout=0.3))
    elapsed = time.perf_counter() - started

    assert result.provider == "groq"
    assert result.attempts[0].outcome == "transient_error"
    assert "timed out" in result.attempts[0].detail
    assert elapsed < 1.2


def test_a_refused_connection_falls_back(servers, providers, settings) -> None:
    from tests.support.servers import closed_port

    second = servers("anthropic")
    second.queue(anthropic_text("Up."))
    providers(anthropic=second)
    settings.LLM_PROVIDERS = {
        **settings.LLM_PROVIDERS,
        "openai": {"api_key": "k", "base_url": f"http://127.0.0.1:{closed_port()}/v1"},
    }
    settings.LLM_PROVIDER_ORDER = ["openai", "anthropic"]

    result = complete(ask())

    assert result.provider == "anthropic"
    assert "connection failed" in result.attempts[0].detail


@pytest.mark.parametrize("status", [400, 401, 403, 404])
def test_permanent_errors_do_not_fall_back(servers, providers, status) -> None:
    first, second = servers("openai"), servers("anthropic")
    first.queue(openai_error(status, "The model `gpt-x` does not exist or bad request"))
    providers(openai=first, anthropic=second)

    with pytest.raises(ProviderRejected) as caught:
        complete(ask())

    assert f"HTTP {status}" in caught.value.message
    assert "openai" in caught.value.message
    assert second.request_count == 0
    assert SpendLedgerEntry.objects.get().outcome == "error"


def test_anthropic_errors_are_classified_the_same_way(servers, providers) -> None:
    first, second = servers("anthropic"), servers("openai")
    first.queue(anthropic_error(529), anthropic_error(401, "invalid x-api-key"))
    second.queue(openai_text("Rescued."))
    providers(anthropic=first, openai=second)

    assert complete(ask()).provider == "openai"  # 529 overloaded: transient
    with pytest.raises(ProviderRejected, match="invalid x-api-key"):
        complete(ask("another question"))  # 401: permanent
    assert second.request_count == 1


def test_all_providers_failed_names_each_provider_and_why(servers, providers) -> None:
    first, second = servers("openai"), servers("anthropic")
    first.queue(openai_error(503, "upstream overloaded"))
    second.queue(anthropic_error(500, "internal boom"))
    providers(openai=first, anthropic=second)

    with pytest.raises(AllProvidersFailed) as caught:
        complete(ask())

    message = caught.value.message
    assert "openai" in message
    assert "upstream overloaded" in message
    assert "anthropic" in message
    assert "internal boom" in message
    assert [a["provider"] for a in caught.value.details["attempts"]] == ["openai", "anthropic"]


def test_no_provider_configured_fails_fast_with_a_clear_message() -> None:
    started = time.perf_counter()
    with pytest.raises(NoProviderConfigured, match="OPENAI_API_KEY"):
        complete(ask())
    assert time.perf_counter() - started < 0.5
    assert NoProviderConfigured.status_code == 503


def test_a_pinned_provider_that_is_not_configured_is_named(servers, providers) -> None:
    server = servers("openai")
    providers(openai=server)
    with pytest.raises(NoProviderConfigured, match="'anthropic'"):
        complete(ask(provider="anthropic", allow_fallback=False))


def test_preferred_provider_and_model_go_first(servers, providers) -> None:
    first, second = servers("openai"), servers("anthropic")
    second.queue(anthropic_text("Preferred."))
    providers(openai=first, anthropic=second)

    result = complete(ask(provider="anthropic", model="claude-3-5-sonnet-latest"))

    assert result.provider == "anthropic"
    assert second.requests[0].json["model"] == "claude-3-5-sonnet-latest"
    assert first.request_count == 0


def test_database_credential_enables_a_provider_with_an_encrypted_key(servers) -> None:
    server = servers("openai", prefix="/openai/v1")
    server.queue(openai_text("From the database key."))
    provider_credential_save(provider="groq", api_key="gsk-secret-value", base_url=server.base_url, priority=5)

    stored = ProviderCredential.objects.get(provider="groq")
    assert "gsk-secret-value" not in stored.api_key_encrypted
    assert "gsk-secret-value" not in repr(enabled_providers())
    result = complete(ask())

    assert result.provider == "groq"
    assert server.requests[0].headers["authorization"] == "Bearer gsk-secret-value"


def test_a_disabled_credential_switches_off_an_env_provider(servers, providers) -> None:
    first, second = servers("openai"), servers("anthropic")
    second.queue(anthropic_text("ok"))
    providers(openai=first, anthropic=second)
    provider_credential_save(provider="openai", api_key="", enabled=False)

    assert [c.name for c in enabled_providers()] == ["anthropic"]
    assert complete(ask()).provider == "anthropic"


def test_cost_routing_tries_the_cheapest_model_first(servers, providers, settings) -> None:
    openai_server, groq_server = servers("openai"), servers("openai", prefix="/openai/v1")
    groq_server.queue(openai_text("cheap"))
    providers(openai=openai_server, groq=groq_server)
    settings.LLM_ROUTING_MODE = "cost"

    assert [c.name for c in route(ask())] == ["groq", "openai"]  # 0.05+0.08 < 0.15+0.60
    assert complete(ask()).provider == "groq"


def test_latency_routing_prefers_the_fastest_measured_provider(servers, providers, settings) -> None:
    a, b, c = servers("openai"), servers("anthropic"), servers("openai", prefix="/openai/v1")
    providers(openai=a, anthropic=b, groq=c)
    settings.LLM_ROUTING_MODE = "latency"
    record_latency("openai", 900)
    record_latency("anthropic", 120)

    assert [cfg.name for cfg in route(ask())] == ["anthropic", "openai", "groq"]  # groq not yet measured


def test_tool_definitions_are_sent_in_each_wire_format(servers, providers) -> None:
    oa, an = servers("openai"), servers("anthropic")
    oa.queue(openai_text("a"))
    an.queue(anthropic_text("b"))
    providers(openai=oa, anthropic=an)
    tool = ToolSpec("low_stock", "Products under a stock threshold.", {"type": "object", "properties": {}})

    complete(ask(tools=[tool]))
    complete(ask(tools=[tool], provider="anthropic"))

    assert oa.requests[0].json["tools"] == [
        {
            "type": "function",
            "function": {"name": "low_stock", "description": tool.description, "parameters": tool.parameters},
        }
    ]
    assert an.requests[0].json["tools"] == [
        {"name": "low_stock", "description": tool.description, "input_schema": tool.parameters}
    ]


def test_call_outcomes_are_counted_per_provider(servers, providers) -> None:
    first, second = servers("openai"), servers("anthropic")
    first.queue(openai_error(429))
    second.queue(anthropic_text("ok"))
    providers(openai=first, anthropic=second)
    before = (metric(LLM_CALLS, "openai", "transient_error"), metric(LLM_CALLS, "anthropic", "ok"))

    complete(ask())

    assert metric(LLM_CALLS, "openai", "transient_error") == before[0] + 1
    assert metric(LLM_CALLS, "anthropic", "ok") == before[1] + 1
