"""The tool-calling loop: model asks for tools, we run them, feed results back.

The conversation is kept in the neutral form and each adapter writes it in its
provider's wire format (OpenAI: ``tool`` messages with ``tool_call_id``; Anthropic:
``tool_result`` blocks in the next user turn), so a step may even fall back to
another provider. Every model call and tool run is recorded as a JSON-serialisable
step for the task's record and progress events.
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from decimal import Decimal
from typing import Any

from agents_app.llm.exceptions import InvalidLLMRequest
from agents_app.llm.gateway import complete
from agents_app.llm.types import ChatMessage, Completion, CompletionRequest, ToolCall

logger = logging.getLogger(__name__)

ToolExecutor = Callable[[str, dict[str, Any]], Any]
StepCallback = Callable[[dict[str, Any]], None]
_MAX_RESULT_CHARS = 20_000


@dataclass
class ToolRun:
    """Outcome of a loop. ``completed`` is False when ``max_steps`` ran out while the
    model still wanted tools; ``text`` is then the last text it produced."""

    text: str
    completed: bool
    steps: list[dict[str, Any]]
    messages: list[ChatMessage]
    final: Completion | None = None
    cost_usd: Decimal = Decimal("0")
    prompt_tokens: int = 0
    completion_tokens: int = 0
    providers: list[str] = field(default_factory=list)


def executor_from_mapping(tools: Mapping[str, Callable[..., Any]]) -> ToolExecutor:
    """Adapt ``{name: callable(**arguments)}`` to an executor."""

    def execute(name: str, arguments: dict[str, Any]) -> Any:
        return tools[name](**arguments)

    return execute


def _run_tool(execute_tool: ToolExecutor, call: ToolCall, allowed: set[str]) -> tuple[bool, Any]:
    if call.name not in allowed:
        return False, f"unknown tool {call.name!r}; available: {', '.join(sorted(allowed))}"
    if call.invalid_arguments is not None:
        return False, "arguments were not a JSON object; call the tool again with valid JSON arguments"
    try:
        return True, execute_tool(call.name, call.arguments)
    except Exception as exc:  # noqa: BLE001 - any tool failure is reported to the model, which may recover
        logger.warning("tool %s failed: %s", call.name, exc, exc_info=True)
        return False, f"{type(exc).__name__}: {exc}"


def _as_content(ok: bool, value: Any) -> str:
    payload = {"result": value} if ok else {"error": value}
    text = json.dumps(payload, default=str, ensure_ascii=False)
    if len(text) > _MAX_RESULT_CHARS:
        text = json.dumps({"error": f"tool result too large ({len(text)} characters); ask for less"})
    return text


def run_with_tools(
    request: CompletionRequest,
    *,
    execute_tool: ToolExecutor | Mapping[str, Callable[..., Any]],
    max_steps: int = 8,
    on_step: StepCallback | None = None,
) -> ToolRun:
    """Run ``request`` (its ``tools`` are what the model may call) until the model
    answers without tool calls or ``max_steps`` model calls were made.

    ``execute_tool(name, arguments)`` returns a JSON-serialisable result; an exception
    becomes an error result the model sees. Gateway errors (budget, providers) propagate.
    """
    if max_steps < 1:
        raise InvalidLLMRequest("max_steps must be at least 1.")
    if not request.tools:
        raise InvalidLLMRequest("run_with_tools needs at least one tool in the request.")
    executor = executor_from_mapping(execute_tool) if isinstance(execute_tool, Mapping) else execute_tool
    allowed = {tool.name for tool in request.tools}
    messages = list(request.messages)
    run = ToolRun(text="", completed=False, steps=[], messages=messages)

    def record(step: dict[str, Any]) -> None:
        step["step"] = len(run.steps) + 1
        run.steps.append(step)
        if on_step is not None:
            on_step(step)

    for _ in range(max_steps):
        completion = complete(replace(request, messages=list(messages)))
        run.final = completion
        run.cost_usd += completion.cost_usd
        run.prompt_tokens += completion.usage.prompt_tokens
        run.completion_tokens += completion.usage.completion_tokens
        run.providers.append(completion.provider)
        if completion.text:
            run.text = completion.text
        record(
            {
                "type": "model",
                "provider": completion.provider,
                "model": completion.model,
                "finish_reason": completion.finish_reason,
                "text": completion.text,
                "tool_calls": [call.as_dict() for call in completion.tool_calls],
                "prompt_tokens": completion.usage.prompt_tokens,
                "completion_tokens": completion.usage.completion_tokens,
                "cost_usd": str(completion.cost_usd),
                "latency_ms": completion.latency_ms,
                "cached": completion.cached,
            }
        )
        messages.append(completion.as_message())
        if not completion.tool_calls:
            run.completed = True
            break
        for call in completion.tool_calls:
            started = time.perf_counter()
            ok, value = _run_tool(executor, call, allowed)
            content = _as_content(ok, value)
            messages.append(ChatMessage(role="tool", content=content, tool_call_id=call.id, name=call.name))
            record(
                {
                    "type": "tool",
                    "tool_call_id": call.id,
                    "name": call.name,
                    "arguments": call.arguments,
                    **json.loads(content),  # {"result": ...} or {"error": ...}, exactly as the model saw it
                    "duration_ms": int((time.perf_counter() - started) * 1000),
                }
            )
    return run
