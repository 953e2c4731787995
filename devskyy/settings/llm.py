"""LLM gateway: routing, timeouts, circuit breaker, budgets, default models and prices.

Providers themselves are enabled by their keys (integrations.py, plus the local
OpenAI-compatible server below) or by encrypted credentials stored in the database.
"""

from __future__ import annotations

import json
from decimal import Decimal, InvalidOperation
from typing import Any

from devskyy.core.env import ConfigError, env

from .integrations import LLM_PROVIDERS as _KEYED_PROVIDERS

# Any OpenAI-compatible server (Ollama, vLLM, llama.cpp, LM Studio) is the "local"
# provider: enabled by its URL alone, since such servers usually need no key.
LLM_PROVIDERS: dict[str, dict[str, str]] = {
    **_KEYED_PROVIDERS,
    "local": {
        "api_key": env.str("LOCAL_LLM_API_KEY"),
        "base_url": env.url("LOCAL_LLM_BASE_URL", schemes=("https", "http")),
    },
}

# Order tried in "priority" mode (database credentials carry their own priority).
LLM_PROVIDER_ORDER = env.list(
    "LLM_PROVIDER_ORDER", ["openai", "anthropic", "google", "groq", "mistral", "cohere", "local"]
)
LLM_ROUTING_MODE = env.choice("LLM_ROUTING_MODE", "priority", ("priority", "cost", "latency"))
LLM_TIMEOUT_SECONDS = env.float("LLM_TIMEOUT_SECONDS", 30.0, minimum=0.05, maximum=600)
LLM_CONNECT_TIMEOUT_SECONDS = env.float("LLM_CONNECT_TIMEOUT_SECONDS", 5.0, minimum=0.05, maximum=60)
LLM_DEFAULT_MAX_TOKENS = env.int("LLM_DEFAULT_MAX_TOKENS", 1024, minimum=1, maximum=200_000)
# Circuit breaker: open after this many consecutive transient failures, probe again after the cool-down.
LLM_BREAKER_FAILURES = env.int("LLM_BREAKER_FAILURES", 3, minimum=1, maximum=100)
LLM_BREAKER_COOLDOWN_SECONDS = env.float("LLM_BREAKER_COOLDOWN_SECONDS", 30.0, minimum=0.01, maximum=3600)
# Round Table: which provider/model judges (default: the first routed provider and its default model).
LLM_JUDGE_PROVIDER = env.str("LLM_JUDGE_PROVIDER")
LLM_JUDGE_MODEL = env.str("LLM_JUDGE_MODEL")
# An agent's LLM task: at most this many model calls (each may ask for tools) before it stops.
AGENT_LLM_MAX_STEPS = env.int("AGENT_LLM_MAX_STEPS", 6, minimum=1, maximum=50)


def _decimal(name: str, default: str) -> Decimal:
    raw = env.str(name, default)
    try:
        value = Decimal(raw)
    except InvalidOperation:
        raise ConfigError(f"{name} must be a decimal number, got {raw!r}.") from None
    if not value.is_finite() or value < 0:
        raise ConfigError(f"{name} must be a finite number >= 0, got {raw!r}.")
    return value


# Default per-agent daily spend limit in USD (override per agent in the admin: AgentBudget).
LLM_DAILY_BUDGET_USD = _decimal("LLM_DAILY_BUDGET_USD", "5.00")

LLM_DEFAULT_MODELS = {
    "openai": env.str("OPENAI_MODEL", "gpt-4o-mini"),
    "anthropic": env.str("ANTHROPIC_MODEL", "claude-3-5-haiku-latest"),
    "google": env.str("GOOGLE_AI_MODEL", "gemini-2.0-flash"),
    "groq": env.str("GROQ_MODEL", "llama-3.1-8b-instant"),
    "mistral": env.str("MISTRAL_MODEL", "mistral-small-latest"),
    "cohere": env.str("COHERE_MODEL", "command-r"),
    "local": env.str("LOCAL_LLM_MODEL", "llama3.2"),
}

# USD per 1M tokens, (input, output). Providers' published list prices for these
# models when this table was written; prices change, so operators override or extend
# them with LLM_PRICES_JSON. "default" prices a model the table does not list, and
# the ledger marks such rows price_source=provider_default.
LLM_PRICES: dict[str, dict[str, tuple[str, str]]] = {
    "openai": {
        "default": ("2.50", "10.00"),
        "gpt-4o-mini": ("0.15", "0.60"),
        "gpt-4o": ("2.50", "10.00"),
        "gpt-4.1-mini": ("0.40", "1.60"),
        "gpt-4.1": ("2.00", "8.00"),
    },
    "anthropic": {
        "default": ("3.00", "15.00"),
        "claude-3-5-haiku-latest": ("0.80", "4.00"),
        "claude-3-5-sonnet-latest": ("3.00", "15.00"),
        "claude-3-7-sonnet-latest": ("3.00", "15.00"),
        "claude-sonnet-4-0": ("3.00", "15.00"),
    },
    "google": {
        "default": ("1.25", "5.00"),
        "gemini-2.0-flash": ("0.10", "0.40"),
        "gemini-1.5-flash": ("0.075", "0.30"),
        "gemini-1.5-pro": ("1.25", "5.00"),
    },
    "groq": {
        "default": ("0.59", "0.79"),
        "llama-3.1-8b-instant": ("0.05", "0.08"),
        "llama-3.3-70b-versatile": ("0.59", "0.79"),
    },
    "mistral": {
        "default": ("2.00", "6.00"),
        "mistral-small-latest": ("0.20", "0.60"),
        "mistral-large-latest": ("2.00", "6.00"),
    },
    "cohere": {
        "default": ("2.50", "10.00"),
        "command-r": ("0.15", "0.60"),
        "command-r-plus": ("2.50", "10.00"),
    },
    # A self-hosted server costs nothing per token.
    "local": {"default": ("0", "0")},
}


def _price_overrides(raw: str) -> dict[str, dict[str, tuple[str, str]]]:
    """LLM_PRICES_JSON: {"provider": {"model" | "default": [input, output]}} in USD per 1M tokens."""
    try:
        data: Any = json.loads(raw)
    except json.JSONDecodeError as exc:
        raise ConfigError(f"LLM_PRICES_JSON is not valid JSON ({exc.msg}).") from None
    if not isinstance(data, dict):
        raise ConfigError("LLM_PRICES_JSON must be an object of providers.")
    result: dict[str, dict[str, tuple[str, str]]] = {}
    for provider, models in data.items():
        if not isinstance(models, dict):
            raise ConfigError(f"LLM_PRICES_JSON[{provider!r}] must be an object of models.")
        for model, pair in models.items():
            if not (isinstance(pair, list) and len(pair) == 2):
                raise ConfigError(f"LLM_PRICES_JSON[{provider!r}][{model!r}] must be [input, output].")
            try:
                prices = (Decimal(str(pair[0])), Decimal(str(pair[1])))
            except InvalidOperation:
                raise ConfigError(f"LLM_PRICES_JSON[{provider!r}][{model!r}] has a non-numeric price.") from None
            if any(not p.is_finite() or p < 0 for p in prices):
                raise ConfigError(f"LLM_PRICES_JSON[{provider!r}][{model!r}] prices must be >= 0.")
            result.setdefault(provider, {})[model] = (str(prices[0]), str(prices[1]))
    return result


for _provider, _models in _price_overrides(env.str("LLM_PRICES_JSON", "{}")).items():
    LLM_PRICES.setdefault(_provider, {}).update(_models)
