"""Agents that think: LLM tasks through the real SDKs against loopback provider servers,
calling real tools over real catalog data, with steps, progress events and spend."""

# JSON results and optional relations are read in asserts:
# mypy: disable-error-code="index, union-attr"
from __future__ import annotations

import json
from decimal import Decimal
from types import SimpleNamespace

import pytest
from django.contrib import admin
from django.contrib.auth.models import AnonymousUser
from django.test import RequestFactory

from agents_app.llm.budget import agent_budget_set
from agents_app.llm.models import SpendLedgerEntry
from agents_app.models import Agent, AgentTask, TaskStatus
from commerce_app.models import Product
from devskyy.feed.models import FeedEvent
from tests.support.llm_servers import anthropic_text, openai_text, openai_tool_calls

pytestmark = pytest.mark.django_db
# Run in both passes: SQLite + local memory, and PostgreSQL + Redis.
BOTH = pytest.mark.parametrize("backend", ["embedded", pytest.param("services", marks=pytest.mark.services)])

QUESTION = "Is the Noir hoodie in size M running low? Answer with the units left."


@pytest.fixture
def hoodie(db) -> Product:
    return Product.objects.create(
        sku="HOODIE-NOIR-M",
        name="Noir Heavyweight Hoodie M",
        category="hoodies",
        collection="Black Rose",
        price=Decimal("148.00"),
        cost=Decimal("52.00"),
        stock=3,
    )


def _execute(api, committed, slug: str, body: dict) -> dict:
    with committed():
        response = api.post(f"/api/v1/agents/{slug}/execute", body, format="json")
    assert response.status_code == 202, response.json()
    return response.json()


@BOTH
def test_an_llm_task_calls_a_real_tool_and_records_steps_provider_tokens_and_cost(
    backend, api, catalog, hoodie, servers, providers, task_queue, committed
) -> None:
    server = servers("openai")
    server.queue(
        openai_tool_calls([("stock_query", {"skus": ["HOODIE-NOIR-M"]})], prompt_tokens=400, completion_tokens=20),
        openai_text("Yes: only 3 units of HOODIE-NOIR-M are left.", prompt_tokens=520, completion_tokens=14),
    )
    providers(openai=server)

    created = _execute(api, committed, "commerce-002", {"task": QUESTION})
    assert created["action"] == "llm_complete"
    assert task_queue.drain()[0].outcome == "completed"

    task = AgentTask.objects.get(pk=created["id"])
    assert task.status == TaskStatus.COMPLETED
    assert task.result["text"] == "Yes: only 3 units of HOODIE-NOIR-M are left."
    steps = task.result["steps"]
    assert [s["type"] for s in steps] == ["model", "tool", "model"]
    assert steps[1]["name"] == "stock_query"
    assert steps[1]["result"]["items"] == [
        {"sku": "HOODIE-NOIR-M", "name": "Noir Heavyweight Hoodie M", "stock": 3, "status": "active"}
    ]
    # Provider, model, tokens and cost on the task are the ledger's totals.
    ledger = list(SpendLedgerEntry.objects.filter(task_id=str(task.id)).order_by("created_at"))
    assert len(ledger) == 2
    assert (task.provider, task.model) == ("openai", "gpt-4o-mini")
    assert task.tokens == 400 + 20 + 520 + 14
    assert task.cost == sum((e.amount for e in ledger), Decimal("0")).quantize(Decimal("0.000001"))
    assert task.cost > 0
    # The product the tool returned tags the later call (catalog-aware cache).
    assert ledger[1].product_refs == [str(hoodie.pk)]
    assert task.result["product_ids"] == [str(hoodie.pk)]

    # What the model saw: the agent's system prompt, the agent's tools with their schemas,
    # then the tool's real result.
    first = server.requests[0].json
    assert first["messages"][0]["role"] == "system"
    assert first["messages"][0]["content"].startswith("You work for SkyyRose")
    assert first["model"] == "gpt-4o-mini"
    offered = {t["function"]["name"]: t["function"]["parameters"] for t in first["tools"]}
    allowed = set(Agent.objects.get(slug="commerce-002").tools) - {"llm_complete"}
    assert set(offered) == allowed  # the agent's own tools, LLM ones excluded
    assert {"low_stock_report", "stock_query", "demand_forecast"} <= allowed
    assert offered["stock_query"]["properties"]["skus"]["type"] == "array"
    tool_message = server.requests[1].json["messages"][-1]
    assert tool_message["role"] == "tool"
    assert json.loads(tool_message["content"])["result"]["items"][0]["stock"] == 3

    # Every step was streamed as task_update progress, then the completion.
    events = list(FeedEvent.objects.filter(channel="tasks", task_id=str(task.id)).order_by("seq"))
    step_events = [e.payload for e in events if "step" in e.payload["data"]]
    assert [e["data"]["step"]["type"] for e in step_events] == ["model", "tool", "model"]
    assert step_events[0]["data"]["step"]["tool_calls"] == ["stock_query"]
    assert step_events[1]["data"]["step"] == {
        "number": 2,
        "type": "tool",
        "name": "stock_query",
        "ok": True,
        "duration_ms": steps[1]["duration_ms"],
    }
    progress = [e.payload["progress"] for e in events]
    assert progress == sorted(progress)
    assert events[-1].payload["status"] == "completed"
    assert events[-1].payload["progress"] == 100


def test_invalid_tool_arguments_are_refused_and_reported_to_the_model(
    api, catalog, hoodie, servers, providers, task_queue, committed
) -> None:
    server = servers("openai")
    server.queue(
        openai_tool_calls([("stock_query", {"skus": "HOODIE-NOIR-M", "color": "black"})]),
        openai_text("I could not check the stock."),
    )
    providers(openai=server)
    created = _execute(api, committed, "commerce-002", {"task": QUESTION})
    task_queue.drain()

    task = AgentTask.objects.get(pk=created["id"])
    assert task.status == TaskStatus.COMPLETED
    tool_step = task.result["steps"][1]
    assert "result" not in tool_step
    assert "do not match its input schema" in tool_step["error"]
    sent = json.loads(server.requests[1].json["messages"][-1]["content"])
    assert "do not match its input schema" in sent["error"]


def test_a_model_that_never_stops_calling_tools_fails_after_max_steps_with_its_steps_kept(
    api, catalog, hoodie, servers, providers, task_queue, committed, settings
) -> None:
    settings.AGENT_LLM_MAX_STEPS = 2
    server = servers("openai")
    server.queue(*[openai_tool_calls([("stock_query", {"skus": ["HOODIE-NOIR-M"]})]) for _ in range(2)])
    providers(openai=server)
    created = _execute(api, committed, "commerce-002", {"task": QUESTION})
    task_queue.drain()

    task = AgentTask.objects.get(pk=created["id"])
    assert (task.status, task.error_code) == (TaskStatus.FAILED, "max_steps_exceeded")
    assert [s["type"] for s in task.result["steps"]] == ["model", "tool", "model", "tool"]
    assert task.tokens > 0
    assert server.request_count == 2


def test_with_no_provider_an_llm_request_fails_fast_and_tool_actions_still_work(
    api, catalog, hoodie, providers, task_queue, committed
) -> None:
    providers()  # none enabled
    response = api.post("/api/v1/agents/commerce-002/execute", {"task": QUESTION}, format="json")
    assert response.status_code == 503
    assert response.json()["error"]["code"] == "llm_not_configured"
    assert "no LLM provider configured" in response.json()["error"]["message"]
    rt = api.post("/api/v1/agents/commerce-002/execute", {"task": QUESTION, "use_round_table": True}, format="json")
    assert rt.status_code == 503
    assert AgentTask.objects.count() == 0

    created = _execute(
        api, committed, "commerce-002", {"task": "stock_query", "parameters": {"skus": ["HOODIE-NOIR-M"]}}
    )
    task_queue.drain()
    task = AgentTask.objects.get(pk=created["id"])
    assert task.status == TaskStatus.COMPLETED
    assert task.result["total_units"] == 3
    assert (task.provider, task.tokens, task.cost) == ("", 0, Decimal("0"))


@BOTH
def test_a_budget_refusal_fails_the_task_before_any_paid_call(
    backend, api, catalog, servers, providers, task_queue, committed
) -> None:
    server = servers("openai")
    providers(openai=server)
    agent_budget_set(agent_slug="commerce-002", daily_limit_usd=Decimal("0.000001"))

    created = _execute(api, committed, "commerce-002", {"task": QUESTION})
    task_queue.drain()

    task = AgentTask.objects.get(pk=created["id"])
    assert (task.status, task.error_code) == (TaskStatus.FAILED, "budget_exceeded")
    assert "Daily LLM budget of agent commerce-002" in task.error
    assert server.request_count == 0
    assert SpendLedgerEntry.objects.count() == 0
    assert (task.tokens, task.cost) == (0, Decimal("0"))


def test_the_preferred_provider_and_model_are_asked_first(
    api, catalog, servers, providers, task_queue, committed
) -> None:
    oa, an = servers("openai"), servers("anthropic")
    an.queue(anthropic_text("A name: Velvet Thorn.", input_tokens=90, output_tokens=9))
    providers(openai=oa, anthropic=an)
    # support-008 prefers Anthropic (claude-sonnet-4) and may only call order_lookup.
    created = _execute(api, committed, "support-008", {"task": "Suggest a name for the apology voucher."})
    task_queue.drain()

    task = AgentTask.objects.get(pk=created["id"])
    assert task.status == TaskStatus.COMPLETED
    assert (task.provider, task.model) == ("anthropic", "claude-sonnet-4-20250514")
    assert an.requests[0].json["model"] == "claude-sonnet-4-20250514"
    assert [t["name"] for t in an.requests[0].json["tools"]] == ["order_lookup"]
    assert oa.request_count == 0
    assert task.tokens == 99


@BOTH
def test_a_product_change_drops_the_cached_answers_that_quoted_it(
    backend, api, catalog, hoodie, servers, providers, task_queue, committed
) -> None:
    from commerce_app.admin import ProductAdmin

    server = servers("openai")
    decide = openai_tool_calls([("stock_query", {"skus": ["HOODIE-NOIR-M"]})])
    server.queue(decide, openai_text("3 left."))
    providers(openai=server)

    def ask() -> AgentTask:
        created = _execute(api, committed, "commerce-002", {"task": QUESTION})
        task_queue.drain()
        return AgentTask.objects.get(pk=created["id"])

    first = ask()
    assert first.status == TaskStatus.COMPLETED
    assert server.request_count == 2
    second = ask()  # same question, same tool result: both model calls come from the cache
    assert second.result["cached"] is True
    assert server.request_count == 2
    assert second.cost == 0

    # An operator changes the price in the admin (the stock tool's output stays the same).
    hoodie.price = Decimal("158.00")
    request = RequestFactory().post("/admin/")
    request.user = AnonymousUser()
    form = SimpleNamespace(changed_data=["price"], cleaned_data={"price": Decimal("158.00")})
    with committed():
        ProductAdmin(Product, admin.site).save_model(request, hoodie, form=form, change=True)

    server.queue(openai_text("Still 3 left."))
    third = ask()
    assert third.result["text"] == "Still 3 left."
    assert third.result["cached"] is False
    # The tool decision (no product data yet) is still cached; the answer that quoted the
    # product is not.
    assert server.request_count == 3
