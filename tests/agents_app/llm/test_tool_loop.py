"""The tool-calling loop executes real Python callables and feeds results back in
each provider's wire format."""

from __future__ import annotations

import json
from decimal import Decimal

import pytest

from agents_app.llm.exceptions import InvalidLLMRequest
from agents_app.llm.models import SpendLedgerEntry
from agents_app.llm.tool_loop import run_with_tools
from agents_app.llm.types import ChatMessage, CompletionRequest, ToolSpec
from tests.support.llm_servers import anthropic_text, anthropic_tool_use, openai_text, openai_tool_calls

pytestmark = pytest.mark.django_db

STOCK = {"HOODIE-NOIR-M": 3, "CAP-SAGE": 41}

STOCK_TOOL = ToolSpec(
    name="stock_level",
    description="Units in stock for a SKU.",
    parameters={"type": "object", "properties": {"sku": {"type": "string"}}, "required": ["sku"]},
)


def stock_level(sku: str) -> dict[str, object]:
    return {"sku": sku, "units": STOCK[sku], "low": STOCK[sku] < 5}


def request(**kwargs: object) -> CompletionRequest:
    return CompletionRequest(
        messages=[ChatMessage(role="user", content="Is the Noir hoodie in size M running low?")],
        tools=[STOCK_TOOL],
        agent_slug="commerce-001",
        task_id="task-42",
        **kwargs,  # type: ignore[arg-type]
    )


def test_openai_loop_runs_the_tool_and_sends_a_tool_message(servers, providers) -> None:
    server = servers("openai")
    server.queue(
        openai_tool_calls([("stock_level", {"sku": "HOODIE-NOIR-M"})], prompt_tokens=50, completion_tokens=10),
        openai_text("Yes: only 3 left.", prompt_tokens=80, completion_tokens=8),
    )
    providers(openai=server)
    seen: list[dict] = []

    run = run_with_tools(request(), execute_tool={"stock_level": stock_level}, max_steps=4, on_step=seen.append)

    assert run.completed is True
    assert run.text == "Yes: only 3 left."
    assert [s["type"] for s in run.steps] == ["model", "tool", "model"]
    assert run.steps[1]["result"] == {"sku": "HOODIE-NOIR-M", "units": 3, "low": True}
    assert seen == run.steps
    assert (run.prompt_tokens, run.completion_tokens) == (130, 18)
    assert run.cost_usd == Decimal("0.0000303")  # (130 x 0.15 + 18 x 0.60) / 1M
    second = server.requests[1].json["messages"]
    call_id = run.steps[0]["tool_calls"][0]["id"]
    assert second[1]["role"] == "assistant"
    assert second[1]["tool_calls"][0]["id"] == call_id
    assert second[1]["tool_calls"][0]["function"]["name"] == "stock_level"
    assert second[2]["role"] == "tool"
    assert second[2]["tool_call_id"] == call_id
    assert json.loads(second[2]["content"]) == {"result": {"sku": "HOODIE-NOIR-M", "units": 3, "low": True}}
    assert SpendLedgerEntry.objects.filter(task_id="task-42").count() == 2


def test_anthropic_loop_sends_tool_result_blocks(servers, providers) -> None:
    server = servers("anthropic")
    server.queue(
        anthropic_tool_use(
            [("stock_level", {"sku": "HOODIE-NOIR-M"}), ("stock_level", {"sku": "CAP-SAGE"})], text="Checking."
        ),
        anthropic_text("Hoodie low (3), cap fine (41)."),
    )
    providers(anthropic=server)
    calls: list[tuple[str, dict]] = []

    def execute(name: str, arguments: dict) -> object:
        calls.append((name, arguments))
        return stock_level(**arguments)

    run = run_with_tools(request(), execute_tool=execute)

    assert run.completed is True
    assert calls == [("stock_level", {"sku": "HOODIE-NOIR-M"}), ("stock_level", {"sku": "CAP-SAGE"})]
    second = server.requests[1].json["messages"]
    assistant, results = second[1], second[2]
    assert assistant["role"] == "assistant"
    assert [b["type"] for b in assistant["content"]] == ["text", "tool_use", "tool_use"]
    tool_ids = [b["id"] for b in assistant["content"][1:]]
    assert results["role"] == "user"
    assert [b["type"] for b in results["content"]] == ["tool_result", "tool_result"]
    assert [b["tool_use_id"] for b in results["content"]] == tool_ids
    assert json.loads(results["content"][1]["content"])["result"]["units"] == 41


def test_tool_errors_are_reported_to_the_model(servers, providers) -> None:
    server = servers("openai")
    server.queue(
        openai_tool_calls([("stock_level", {"sku": "UNKNOWN"}), ("delete_everything", {})]),
        openai_text("That SKU does not exist."),
    )
    providers(openai=server)

    run = run_with_tools(request(), execute_tool={"stock_level": stock_level})

    tool_steps = [s for s in run.steps if s["type"] == "tool"]
    assert "KeyError" in tool_steps[0]["error"]
    assert "unknown tool 'delete_everything'" in tool_steps[1]["error"]
    contents = [json.loads(m["content"]) for m in server.requests[1].json["messages"] if m["role"] == "tool"]
    assert all("error" in c for c in contents)


def test_invalid_json_arguments_are_not_executed(servers, providers) -> None:
    server = servers("openai")
    reply = openai_tool_calls([("stock_level", {})])
    reply.body["choices"][0]["message"]["tool_calls"][0]["function"]["arguments"] = '{"sku": "HOOD'
    server.queue(reply, openai_text("Sorry."))
    providers(openai=server)
    executed: list[str] = []

    run = run_with_tools(request(), execute_tool=lambda name, args: executed.append(name))

    assert executed == []
    assert "not a JSON object" in run.steps[1]["error"]


def test_the_loop_stops_at_max_steps(servers, providers) -> None:
    server = servers("openai")
    server.responder = lambda req: openai_tool_calls([("stock_level", {"sku": "CAP-SAGE"})])
    providers(openai=server)

    run = run_with_tools(request(use_cache=False), execute_tool={"stock_level": stock_level}, max_steps=3)

    assert run.completed is False
    assert server.request_count == 3
    assert [s["type"] for s in run.steps].count("model") == 3


def test_a_tool_loop_needs_tools() -> None:
    with pytest.raises(InvalidLLMRequest):
        run_with_tools(
            CompletionRequest(messages=[ChatMessage(role="user", content="x")]), execute_tool=lambda n, a: None
        )
