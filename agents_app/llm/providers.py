"""Provider adapters: one ``complete(call) -> Completion`` over the official SDKs.

* ``OpenAICompatibleAdapter``: the ``openai`` SDK for OpenAI and for every provider
  with an OpenAI-compatible endpoint (Google Gemini, Groq, Mistral, Cohere, a local
  server), chosen by base URL.
* ``AnthropicAdapter``: the ``anthropic`` SDK, Messages API.

Clients are built with an explicit timeout and ``max_retries=0``: retrying and falling
back are the gateway's decisions, not the SDK's. Every SDK failure becomes a
``ProviderError`` marked transient (timeouts, connection errors, 408/409/429, 5xx) or
permanent (other 4xx). Token counts come from the provider's ``usage`` only.
"""

from __future__ import annotations

import hashlib
import json
import threading
import time
from collections import OrderedDict
from collections.abc import Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Protocol, cast

from django.conf import settings

from agents_app.llm.exceptions import ProviderError
from agents_app.llm.types import ChatMessage, Completion, ProviderCall, ToolCall, ToolSpec, Usage

if TYPE_CHECKING:
    # The SDKs are imported where a provider is first called, not at start-up: together
    # they are ~3,700 modules, ~70 MB of every web and task process and most of its
    # import time, and web processes never call a provider (PERF P6/P7, bench/README.md).
    import anthropic
    import openai

DEFAULT_BASE_URLS = {
    "openai": "https://api.openai.com/v1",
    "google": "https://generativelanguage.googleapis.com/v1beta/openai/",
    "groq": "https://api.groq.com/openai/v1",
    "mistral": "https://api.mistral.ai/v1",
    "cohere": "https://api.cohere.ai/compatibility/v1",
    "anthropic": "https://api.anthropic.com",
}
# Servers that need no key (a local Ollama) still get a bearer value: the SDK insists
# on one, and such servers ignore it.
_NO_KEY = "no-key-configured"
_TRANSIENT_STATUSES = frozenset({408, 409, 425, 429})


@dataclass(frozen=True)
class ProviderConfig:
    """An enabled provider as routing sees it. ``repr`` hides the key."""

    name: str
    kind: str  # openai | anthropic: which SDK speaks to it
    api_key: str
    base_url: str
    default_model: str
    priority: int
    source: str  # env | database

    def __repr__(self) -> str:
        return f"ProviderConfig(name={self.name!r}, base_url={self.base_url!r}, source={self.source!r})"


class Adapter(Protocol):
    def complete(self, call: ProviderCall) -> Completion: ...


def load_sdks() -> None:
    """Import both SDKs now, before a caller starts a clock (gateway, Round Table)."""
    import anthropic  # noqa: F401
    import openai  # noqa: F401


def _is_transient_status(status: int) -> bool:
    return status >= 500 or status in _TRANSIENT_STATUSES


def _classify(provider: str, exc: openai.OpenAIError | anthropic.AnthropicError, timeout: float) -> ProviderError:
    import anthropic
    import openai

    if isinstance(exc, openai.APITimeoutError | anthropic.APITimeoutError):
        return ProviderError(provider, f"timed out after {timeout:g}s", transient=True)
    if isinstance(exc, openai.APIConnectionError | anthropic.APIConnectionError):
        return ProviderError(provider, f"connection failed ({exc.message})", transient=True)
    if isinstance(exc, openai.APIStatusError | anthropic.APIStatusError):
        status = exc.status_code
        return ProviderError(provider, _status_message(exc), transient=_is_transient_status(status), status=status)
    if isinstance(exc, openai.APIResponseValidationError | anthropic.APIResponseValidationError):
        return ProviderError(provider, f"malformed response ({exc.message})", transient=True)
    return ProviderError(provider, f"{type(exc).__name__}: {exc}", transient=False)


def _status_message(exc: openai.APIStatusError | anthropic.APIStatusError) -> str:
    """The provider's own error message: OpenAI-style bodies carry it in
    ``error.message`` (the SDK hands us the inner object), Anthropic's in
    ``{"type": "error", "error": {"type", "message"}}``."""
    body = exc.body
    if isinstance(body, dict):
        inner = body.get("error")
        source = inner if isinstance(inner, dict) else body
        message = source.get("message")
        kind = source.get("type") or source.get("code")
        if isinstance(message, str) and message:
            return f"{message} ({kind})" if isinstance(kind, str) and kind else message
    return exc.message


def _parse_arguments(raw: str) -> tuple[dict[str, Any], str | None]:
    """Models sometimes emit invalid JSON; keep it so the tool loop can say so."""
    try:
        value = json.loads(raw or "{}")
    except json.JSONDecodeError:
        return {}, raw
    if not isinstance(value, dict):
        return {}, raw
    return value, None


# ---------------------------------------------------------------------------------
# OpenAI and OpenAI-compatible providers
# ---------------------------------------------------------------------------------


def openai_messages(messages: Iterable[ChatMessage]) -> list[dict[str, Any]]:
    """The neutral conversation in Chat Completions form; tool results are ``tool``
    messages carrying ``tool_call_id``."""
    wire: list[dict[str, Any]] = []
    for message in messages:
        if message.role == "tool":
            wire.append({"role": "tool", "tool_call_id": message.tool_call_id, "content": message.content})
        elif message.role == "assistant" and message.tool_calls:
            wire.append(
                {
                    "role": "assistant",
                    "content": message.content or None,
                    "tool_calls": [
                        {
                            "id": call.id,
                            "type": "function",
                            "function": {"name": call.name, "arguments": json.dumps(call.arguments)},
                        }
                        for call in message.tool_calls
                    ],
                }
            )
        else:
            wire.append({"role": message.role, "content": message.content})
    return wire


def openai_tools(tools: Iterable[ToolSpec]) -> list[dict[str, Any]]:
    return [
        {"type": "function", "function": {"name": t.name, "description": t.description, "parameters": t.parameters}}
        for t in tools
    ]


class OpenAICompatibleAdapter:
    def __init__(self, config: ProviderConfig, client: openai.OpenAI) -> None:
        self.config = config
        self.client = client

    def complete(self, call: ProviderCall) -> Completion:
        params: dict[str, Any] = {}
        if call.temperature is not None:
            params["temperature"] = call.temperature
        if call.tools:
            params["tools"] = openai_tools(call.tools)
        # OpenAI's newer models accept only max_completion_tokens; the compatible
        # endpoints of other providers document max_tokens.
        if self.config.name == "openai":
            params["max_completion_tokens"] = call.max_tokens
        else:
            params["max_tokens"] = call.max_tokens
        import openai

        started = time.perf_counter()
        try:
            response = self.client.chat.completions.create(
                model=call.model,
                messages=cast(Any, openai_messages(call.messages)),
                timeout=_openai_timeout(call.timeout),
                **params,
            )
        except openai.OpenAIError as exc:
            raise _classify(self.config.name, exc, call.timeout) from exc
        latency_ms = int((time.perf_counter() - started) * 1000)
        if not response.choices:
            raise ProviderError(self.config.name, "response had no choices", transient=True)
        choice = response.choices[0]
        tool_calls = []
        for raw in choice.message.tool_calls or []:
            if raw.type != "function":
                continue
            arguments, invalid = _parse_arguments(raw.function.arguments)
            tool_calls.append(
                ToolCall(id=raw.id, name=raw.function.name, arguments=arguments, invalid_arguments=invalid)
            )
        usage = response.usage
        return Completion(
            text=choice.message.content or "",
            tool_calls=tool_calls,
            finish_reason=choice.finish_reason or "",
            usage=Usage(usage.prompt_tokens, usage.completion_tokens) if usage else Usage(0, 0, reported=False),
            latency_ms=latency_ms,
            provider=self.config.name,
            model=response.model or call.model,
        )


def _openai_timeout(total: float) -> openai.Timeout:
    import openai

    return openai.Timeout(total, connect=min(settings.LLM_CONNECT_TIMEOUT_SECONDS, total))


# ---------------------------------------------------------------------------------
# Anthropic
# ---------------------------------------------------------------------------------


def anthropic_messages(messages: Iterable[ChatMessage]) -> tuple[str, list[dict[str, Any]]]:
    """System text and Messages API turns. Assistant tool calls become ``tool_use``
    blocks; tool results become ``tool_result`` blocks in one following user turn."""
    system: list[str] = []
    wire: list[dict[str, Any]] = []
    for message in messages:
        if message.role == "system":
            system.append(message.content)
        elif message.role == "tool":
            block = {"type": "tool_result", "tool_use_id": message.tool_call_id, "content": message.content}
            previous = wire[-1] if wire else None
            if previous and previous["role"] == "user" and isinstance(previous["content"], list):
                previous["content"].append(block)
            else:
                wire.append({"role": "user", "content": [block]})
        elif message.role == "assistant":
            blocks: list[dict[str, Any]] = [{"type": "text", "text": message.content}] if message.content else []
            blocks += [
                {"type": "tool_use", "id": call.id, "name": call.name, "input": call.arguments}
                for call in message.tool_calls
            ]
            wire.append({"role": "assistant", "content": blocks or ""})
        else:
            wire.append({"role": "user", "content": message.content})
    return "\n\n".join(system), wire


def anthropic_tools(tools: Iterable[ToolSpec]) -> list[dict[str, Any]]:
    return [{"name": t.name, "description": t.description, "input_schema": t.parameters} for t in tools]


class AnthropicAdapter:
    def __init__(self, config: ProviderConfig, client: anthropic.Anthropic) -> None:
        self.config = config
        self.client = client

    def complete(self, call: ProviderCall) -> Completion:
        system, wire = anthropic_messages(call.messages)
        params: dict[str, Any] = {}
        if system:
            params["system"] = system
        if call.tools:
            params["tools"] = anthropic_tools(call.tools)
        if call.temperature is not None:
            # This SDK release has no typed temperature argument; the API accepts it.
            params["extra_body"] = {"temperature": call.temperature}
        import anthropic

        started = time.perf_counter()
        try:
            response = self.client.messages.create(
                model=call.model,
                max_tokens=call.max_tokens,
                messages=cast(Any, wire),
                timeout=anthropic.Timeout(
                    call.timeout, connect=min(settings.LLM_CONNECT_TIMEOUT_SECONDS, call.timeout)
                ),
                **params,
            )
        except anthropic.AnthropicError as exc:
            raise _classify(self.config.name, exc, call.timeout) from exc
        latency_ms = int((time.perf_counter() - started) * 1000)
        texts: list[str] = []
        tool_calls: list[ToolCall] = []
        for block in response.content:
            if block.type == "text":
                texts.append(block.text)
            elif block.type == "tool_use":
                tool_calls.append(ToolCall(id=block.id, name=block.name, arguments=dict(block.input)))
        return Completion(
            text="".join(texts),
            tool_calls=tool_calls,
            finish_reason=response.stop_reason or "",
            usage=Usage(response.usage.input_tokens, response.usage.output_tokens),
            latency_ms=latency_ms,
            provider=self.config.name,
            model=response.model or call.model,
        )


# ---------------------------------------------------------------------------------
# Clients, built once per (provider, endpoint, key) and shared by threads
# ---------------------------------------------------------------------------------

_CLIENT_CACHE_SIZE = 32
_clients: OrderedDict[tuple[str, str, str, str], openai.OpenAI | anthropic.Anthropic] = OrderedDict()
_clients_lock = threading.Lock()


def _client_for(config: ProviderConfig) -> openai.OpenAI | anthropic.Anthropic:
    # The key enters the cache key only as a digest.
    fingerprint = hashlib.sha256(config.api_key.encode()).hexdigest()
    key = (config.kind, config.name, config.base_url, fingerprint)
    with _clients_lock:
        client = _clients.get(key)
        if client is not None:
            _clients.move_to_end(key)
            return client
    timeout = settings.LLM_TIMEOUT_SECONDS
    new: openai.OpenAI | anthropic.Anthropic
    if config.kind == "anthropic":
        import anthropic

        new = anthropic.Anthropic(
            api_key=config.api_key or _NO_KEY,
            base_url=config.base_url or DEFAULT_BASE_URLS["anthropic"],
            timeout=anthropic.Timeout(timeout, connect=min(settings.LLM_CONNECT_TIMEOUT_SECONDS, timeout)),
            max_retries=0,
        )
    else:
        import openai

        new = openai.OpenAI(
            api_key=config.api_key or _NO_KEY,
            base_url=config.base_url or DEFAULT_BASE_URLS.get(config.name, DEFAULT_BASE_URLS["openai"]),
            timeout=_openai_timeout(timeout),
            max_retries=0,
        )
    with _clients_lock:
        client = _clients.setdefault(key, new)
        _clients.move_to_end(key)
        while len(_clients) > _CLIENT_CACHE_SIZE:
            _clients.popitem(last=False)
    return client


def adapter_for(config: ProviderConfig) -> Adapter:
    client = _client_for(config)
    if config.kind == "anthropic":
        return AnthropicAdapter(config, cast("anthropic.Anthropic", client))
    return OpenAICompatibleAdapter(config, cast("openai.OpenAI", client))
