"""Provider-neutral request and response shapes.

Conversations are kept in one neutral form (OpenAI-like roles: system, user,
assistant with optional tool calls, tool results with the call id); each adapter
translates it into its provider's wire format. That way a tool-calling loop can fall
back to another provider mid-conversation, and the cache key does not depend on SDK
objects.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any, Literal

from agents_app.llm.exceptions import Attempt

Role = Literal["system", "user", "assistant", "tool"]


@dataclass(frozen=True)
class ToolCall:
    """A function call the model asked for; ``arguments`` already parsed from JSON."""

    id: str
    name: str
    arguments: dict[str, Any]
    invalid_arguments: str | None = None  # the raw text when the model's JSON did not parse

    def as_dict(self) -> dict[str, Any]:
        data: dict[str, Any] = {"id": self.id, "name": self.name, "arguments": self.arguments}
        if self.invalid_arguments is not None:
            data["invalid_arguments"] = self.invalid_arguments
        return data


@dataclass(frozen=True)
class ChatMessage:
    role: Role
    content: str = ""
    tool_calls: tuple[ToolCall, ...] = ()
    tool_call_id: str | None = None  # role="tool": the call this result answers
    name: str | None = None  # role="tool": the tool's name (Anthropic does not need it)

    def as_dict(self) -> dict[str, Any]:
        data: dict[str, Any] = {"role": self.role, "content": self.content}
        if self.tool_calls:
            data["tool_calls"] = [call.as_dict() for call in self.tool_calls]
        if self.tool_call_id is not None:
            data["tool_call_id"] = self.tool_call_id
        if self.name is not None:
            data["name"] = self.name
        return data


@dataclass(frozen=True)
class ToolSpec:
    """A function the model may call: name, description and JSON-schema parameters."""

    name: str
    description: str
    parameters: dict[str, Any]

    def as_dict(self) -> dict[str, Any]:
        return {"name": self.name, "description": self.description, "parameters": self.parameters}


@dataclass(frozen=True)
class Usage:
    """Token counts exactly as the provider reported them. A server that omits usage
    gives ``reported=False`` and zeros, which are never priced as if real."""

    prompt_tokens: int
    completion_tokens: int
    reported: bool = True


@dataclass
class CompletionRequest:
    """What a caller asks of the gateway.

    ``provider``/``model`` pin a preference (an agent's preferred provider and model);
    ``model`` applies to that provider only, every other provider uses its default
    model. ``allow_fallback=False`` tries the named provider alone. The references
    (agent, task, products, campaign, purpose) go to the spend ledger; ``product_ids``
    also tag the cached answer so ``invalidate_products`` can drop it.
    """

    messages: list[ChatMessage]
    provider: str | None = None
    model: str | None = None
    temperature: float | None = None
    max_tokens: int | None = None
    tools: list[ToolSpec] = field(default_factory=list)
    use_cache: bool = True
    allow_fallback: bool = True
    timeout: float | None = None
    agent_slug: str = ""
    task_id: str = ""
    product_ids: list[int | str] = field(default_factory=list)
    campaign_ref: str = ""
    purpose: str = ""


@dataclass(frozen=True)
class ProviderCall:
    """One call as an adapter receives it: the model is resolved, limits are final."""

    messages: list[ChatMessage]
    model: str
    max_tokens: int
    temperature: float | None
    tools: list[ToolSpec]
    timeout: float


@dataclass
class Completion:
    """A model's answer. ``usage`` is the provider's own count; ``cost_usd`` is that
    usage priced by the price table (zero for a cache hit, which made no call)."""

    text: str
    tool_calls: list[ToolCall]
    finish_reason: str
    usage: Usage
    latency_ms: int
    provider: str
    model: str
    cost_usd: Decimal = Decimal("0")
    price_source: str = ""
    cached: bool = False
    attempts: list[Attempt] = field(default_factory=list)  # every provider tried for this answer, in order

    def to_cache(self) -> dict[str, Any]:
        return {
            "text": self.text,
            "tool_calls": [call.as_dict() for call in self.tool_calls],
            "finish_reason": self.finish_reason,
            "usage": [self.usage.prompt_tokens, self.usage.completion_tokens, self.usage.reported],
            "latency_ms": self.latency_ms,
            "provider": self.provider,
            "model": self.model,
        }

    @classmethod
    def from_cache(cls, data: dict[str, Any]) -> Completion:
        return cls(
            text=data["text"],
            tool_calls=[ToolCall(**call) for call in data["tool_calls"]],
            finish_reason=data["finish_reason"],
            usage=Usage(*data["usage"]),
            latency_ms=data["latency_ms"],
            provider=data["provider"],
            model=data["model"],
            cached=True,
        )

    def as_message(self) -> ChatMessage:
        """The assistant turn to append to the conversation."""
        return ChatMessage(role="assistant", content=self.text, tool_calls=tuple(self.tool_calls))
