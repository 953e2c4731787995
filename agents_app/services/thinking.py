"""Agents that think: an LLM task runs the agent's system prompt and the user's request
through the gateway, and the model may call the agent's own tools.

* The request goes to the agent's preferred provider and model first (the gateway
  falls back to the other enabled providers on transient errors only).
* Tools offered to the model are the agent's allowed tools except LLM ones (no
  recursion) and those whose integration is not configured, each with its registry
  JSON schema as the function's parameters.
  Arguments the model sends are validated against that schema before the tool runs;
  an invalid call, an unconfigured integration or a tool error goes back to the model
  as an error result it may recover from.
* At most AGENT_LLM_MAX_STEPS model calls; a model that still wants tools after that
  fails the task (``max_steps_exceeded``) with every step kept.
* Every model call and tool run is a step: kept on the task (``result.steps``, also
  when it fails) and streamed as a ``task_update`` whose ``data.step`` summarises it.
* Products the tools returned (by SKU) tag the later model calls, so a cached answer
  that quoted them is dropped when they change (``devskyy.core.catalog_changes``).
* ``use_round_table``: the prompt goes to every enabled provider instead
  (``agents_app.llm.round_table``), with ``competition_update`` events on ``round_table``.

Gateway refusals propagate as domain errors and fail the task with their code:
``llm_not_configured`` (503), ``budget_exceeded`` (402, checked before each paid call),
``llm_unavailable``, ``llm_request_rejected``.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable
from typing import Any

from django.conf import settings

from agents_app.events import publish_round_table_event
from agents_app.exceptions import AgentNotFoundError
from agents_app.integrations import integration_status
from agents_app.llm.gateway import complete
from agents_app.llm.round_table import RoundTableResult, run_round_table
from agents_app.llm.tool_loop import run_with_tools
from agents_app.llm.types import ChatMessage, Completion, CompletionRequest, ToolSpec
from agents_app.models import Agent
from agents_app.tools.base import Tool, ToolContext, registry, validate_input
from agents_app.tools.integrations import check_requirements
from commerce_app.selectors import products_by_sku
from devskyy.core.errors import DomainError
from devskyy.core.events import json_safe

logger = logging.getLogger(__name__)

_CONTEXT_LIMIT = 30_000  # characters of JSON data appended to a prompt


class MaxStepsExceeded(DomainError):  # noqa: N818 - reads as the outcome it reports
    status_code = 422
    code = "max_steps_exceeded"


class RoundTableFailed(DomainError):  # noqa: N818
    status_code = 502
    code = "round_table_failed"


def tool_specs(agent: Agent) -> list[ToolSpec]:
    """The agent's allowed tools as functions the model may call: LLM tools (no
    recursion) and tools whose integration is not configured (they could only fail)
    are left out."""
    tools = registry()
    status = integration_status()
    specs: list[ToolSpec] = []
    for name in agent.tools:
        tool = tools.get(name)
        if tool is None or tool.kind == "llm" or not all(status.get(req, False) for req in tool.requires):
            continue
        specs.append(ToolSpec(name=tool.name, description=tool.description, parameters=tool.input_schema))
    return specs


def build_prompt(params: dict[str, Any]) -> str:
    """The user's request, with ``context`` data (e.g. a workflow's earlier results) appended."""
    prompt = str(params["prompt"])
    if "context" in params:
        data = json.dumps(params["context"], default=str, ensure_ascii=False, sort_keys=True)
        if len(data) > _CONTEXT_LIMIT:
            data = data[:_CONTEXT_LIMIT] + " ...(truncated)"
        prompt += f"\n\nData (JSON):\n{data}"
    return prompt


def _skus(value: Any, found: set[str]) -> None:
    if isinstance(value, dict):
        sku = value.get("sku")
        if isinstance(sku, str):
            found.add(sku)
        for item in value.values():
            _skus(item, found)
    elif isinstance(value, list):
        for item in value:
            _skus(item, found)


def product_ids_in(result: Any) -> list[str]:
    """Primary keys of the products a tool result mentions by SKU (one query)."""
    skus: set[str] = set()
    _skus(result, skus)
    if not skus:
        return []
    return sorted(str(p.pk) for p in products_by_sku(sorted(skus)).values())


class _NestedContext:
    """Context of a tool the model called: its checkpoints renew the task's lease and
    honour cancellation, but do not move the task's progress."""

    def __init__(self, parent: ToolContext) -> None:
        self.parent = parent
        self.agent_slug = parent.agent_slug
        self.task_id = parent.task_id

    def checkpoint(self, progress: int) -> None:
        self.parent.checkpoint(int(getattr(self.parent, "progress", 0)))


def _executor(ctx: ToolContext, allowed: dict[str, Tool], product_refs: list[int | str]) -> Callable[..., Any]:
    nested = _NestedContext(ctx)

    def execute(name: str, arguments: dict[str, Any]) -> Any:
        tool = allowed[name]
        check_requirements(tool.requires)
        params = validate_input(tool, arguments)
        result = json_safe(tool.fn(nested, params))
        for pid in product_ids_in(result):
            if pid not in product_refs:
                product_refs.append(pid)  # later model calls in this loop are tagged with it
        return result

    return execute


def _summary(step: dict[str, Any]) -> dict[str, Any]:
    """What a progress event says about a step (the full step stays on the task)."""
    if step["type"] == "model":
        return {
            "number": step["step"],
            "type": "model",
            "provider": step["provider"],
            "model": step["model"],
            "tool_calls": [call["name"] for call in step["tool_calls"]],
            "prompt_tokens": step["prompt_tokens"],
            "completion_tokens": step["completion_tokens"],
            "cost_usd": step["cost_usd"],
            "cached": step["cached"],
        }
    return {
        "number": step["step"],
        "type": "tool",
        "name": step["name"],
        "ok": "error" not in step,
        "duration_ms": step["duration_ms"],
    }


def _recorder(ctx: ToolContext, max_steps: int) -> Callable[[dict[str, Any]], None]:
    calls = 0

    def on_step(step: dict[str, Any]) -> None:
        nonlocal calls
        if step["type"] == "model":
            calls += 1
        progress = min(95, 5 + (90 * calls) // max_steps)
        record = getattr(ctx, "record_step", None)
        if record is not None:
            record(step, progress=progress, summary=_summary(step))
        else:
            ctx.checkpoint(progress)

    return on_step


def _model_step(completion: Completion) -> dict[str, Any]:
    return {
        "step": 1,
        "type": "model",
        "provider": completion.provider,
        "model": completion.model,
        "finish_reason": completion.finish_reason,
        "text": completion.text,
        "tool_calls": [],
        "prompt_tokens": completion.usage.prompt_tokens,
        "completion_tokens": completion.usage.completion_tokens,
        "cost_usd": str(completion.cost_usd),
        "latency_ms": completion.latency_ms,
        "cached": completion.cached,
    }


def agent_think(ctx: ToolContext, params: dict[str, Any]) -> dict[str, Any]:
    """Run an ``llm_complete`` task for ``ctx``'s agent; returns the task's result."""
    agent = Agent.objects.filter(slug=ctx.agent_slug).first()
    if agent is None:
        raise AgentNotFoundError(f"No agent {ctx.agent_slug!r}.", details={"agent_id": ctx.agent_slug})
    prompt = build_prompt(params)
    if getattr(ctx, "use_round_table", False):
        return _round_table(ctx, agent, prompt, params)
    messages = [ChatMessage(role="system", content=agent.system_prompt)] if agent.system_prompt else []
    messages.append(ChatMessage(role="user", content=prompt))
    specs = tool_specs(agent)
    product_refs: list[int | str] = []
    provider = agent.preferred_provider or None
    request = CompletionRequest(
        messages=messages,
        provider=provider,
        model=(agent.preferred_model or None) if provider else None,
        temperature=params.get("temperature"),
        max_tokens=params.get("max_tokens"),
        tools=specs,
        agent_slug=agent.slug,
        task_id=ctx.task_id or "",
        product_ids=product_refs,  # shared with the executor: grows as tools read products
        purpose="agent_task",
    )
    max_steps = int(settings.AGENT_LLM_MAX_STEPS)
    on_step = _recorder(ctx, max_steps)
    ctx.checkpoint(5)
    if not specs:
        completion = complete(request)
        on_step(_model_step(completion))
        return _answer(completion, completion.text, steps=1, products=product_refs)
    run = run_with_tools(
        request,
        execute_tool=_executor(ctx, {s.name: registry()[s.name] for s in specs}, product_refs),
        max_steps=max_steps,
        on_step=on_step,
    )
    if not run.completed or run.final is None:
        raise MaxStepsExceeded(
            f"The model still asked for tools after {max_steps} model calls (AGENT_LLM_MAX_STEPS); "
            "every step is kept on the task.",
            details={"max_steps": max_steps},
        )
    return _answer(run.final, run.text, steps=len(run.steps), products=product_refs)


def _answer(final: Completion, text: str, *, steps: int, products: list[int | str]) -> dict[str, Any]:
    """The task result; ``steps`` itself is added by the task record (TaskContext)."""
    return {
        "text": text,
        "provider": final.provider,
        "model": final.model,
        "finish_reason": final.finish_reason,
        "cached": final.cached,
        "step_count": steps,
        "product_ids": [str(p) for p in products],
    }


def _round_table(ctx: ToolContext, agent: Agent, prompt: str, params: dict[str, Any]) -> dict[str, Any]:
    owner_id = getattr(ctx, "owner_id", None)

    def on_event(stage: str, payload: dict[str, Any]) -> None:
        publish_round_table_event(
            stage=stage, payload=payload, agent_slug=agent.slug, task_id=ctx.task_id or "", owner_id=owner_id
        )

    ctx.checkpoint(5)
    result: RoundTableResult = run_round_table(
        prompt=prompt,
        system_prompt=agent.system_prompt,
        agent_slug=agent.slug,
        task_id=ctx.task_id or "",
        owner_id=owner_id,
        max_tokens=params.get("max_tokens"),
        temperature=params.get("temperature"),
        on_event=on_event,
    )
    winner = result.winner
    body: dict[str, Any] = {
        "round_table_id": result.round_table_id,
        "verdict_method": result.verdict_method,
        "verdict_reason": result.verdict_reason,
        "judge_provider": result.judge_provider,
        "judge_error": result.judge_error,
        "total_cost_usd": str(result.total_cost_usd),
        "entries": [
            {
                "provider": e.provider,
                "model": e.model,
                "status": e.status,
                "score": str(e.score) if e.score is not None else None,
                "rank": e.rank,
                "latency_ms": e.latency_ms,
                "cost_usd": str(e.cost_usd),
                "error": e.error,
            }
            for e in result.entries
        ],
    }
    if winner is None:
        errors = "; ".join(f"{e.provider}: {e.error}" for e in result.entries)
        raise RoundTableFailed(
            f"No provider answered the Round Table: {errors}",
            details={"round_table_id": result.round_table_id, "entries": body["entries"]},
        )
    body.update(
        {
            "text": winner.text,
            "provider": winner.provider,
            "model": winner.model,
            "winner_score": None if winner.score is None else str(winner.score),
        }
    )
    return body
