"""Which providers are enabled, and in which order a request tries them.

A provider is enabled by its environment key (settings.LLM_PROVIDERS; the local
server by its URL) or by a ProviderCredential row, which overrides the environment for
that provider (its key, URL and model; ``enabled=False`` switches it off).

Order (settings.LLM_ROUTING_MODE):
* ``priority``: credential ``priority`` (env-only providers count as 100), then
  LLM_PROVIDER_ORDER.
* ``cost``: cheapest blended price (input + output per 1M tokens) of the model the
  provider would use, then priority.
* ``latency``: lowest moving average of measured call latency (shared across
  processes like the breakers); providers not yet measured follow, by priority.
A request's preferred provider always goes first.
"""

from __future__ import annotations

import logging
from typing import Any

from django.conf import settings

from agents_app.llm.exceptions import NoProviderConfigured
from agents_app.llm.models import PROVIDER_KINDS, ProviderCredential
from agents_app.llm.pricing import price_for
from agents_app.llm.providers import ProviderConfig
from agents_app.llm.state import shared_state
from agents_app.llm.types import CompletionRequest
from devskyy.core import versions
from devskyy.core.encryption import DecryptionError
from devskyy.core.settings_cache import derived_from_settings

logger = logging.getLogger(__name__)

DEFAULT_PRIORITY = 100
_EWMA_ALPHA = 0.3  # weight of the newest sample in the latency average
_LATENCY_TTL = 24 * 3600.0


# Stored credentials are read once per version of them (devskyy/core/versions.py): the
# agents list, the tools list and the gateway ask on every request or call, and a query
# each time was a third of GET /api/v1/agents (PERF P1, bench/README.md). Every save and
# delete of a ProviderCredential bumps the version after commit (agents_app/apps.py), so
# the next call in every process reads the rows again; writes that bypass the model
# (queryset.update, raw SQL) are picked up within PROVIDERS_CACHE_SECONDS.
VERSION = "llm_providers"
PROVIDERS_CACHE_SECONDS = 60.0
_copy: versions.VersionedCopy[tuple[ProviderConfig, ...]] = versions.VersionedCopy(
    VERSION, seconds=PROVIDERS_CACHE_SECONDS, prefetch=True
)


def providers_changed() -> None:
    """A stored credential changed (or will, once the transaction commits)."""
    _copy.changed()


@derived_from_settings
def _settings_key() -> tuple[Any, ...]:
    env = settings.LLM_PROVIDERS
    return (
        tuple((name, cfg.get("api_key", ""), cfg.get("base_url", "")) for name, cfg in env.items()),
        tuple(settings.LLM_PROVIDER_ORDER),
        tuple(settings.LLM_DEFAULT_MODELS.items()),
    )


def enabled_providers(request: Any = None) -> list[ProviderConfig]:
    """Every usable provider, in priority order: one query per version of the stored
    credentials and process (above). ``request``: use its prefetched versions.

    Inside a transaction the rows are read and nothing is kept: it may see its own
    uncommitted rows, or roll back."""
    return list(_providers(request))


def any_provider_enabled(request: Any = None) -> bool:
    """Whether :func:`enabled_providers` would return any (without copying the list)."""
    return bool(_providers(request))


def _providers(request: Any) -> tuple[ProviderConfig, ...]:
    """The kept tuple itself: callers copy it or only read it."""
    return _copy.get(lambda: tuple(_read_enabled_providers()), key=_settings_key(), request=request)


def forget_providers() -> None:
    """Drop this process's copy (tests)."""
    _copy.forget()


def _read_enabled_providers() -> list[ProviderConfig]:
    rows = {row.provider: row for row in ProviderCredential.objects.all()}
    order = list(settings.LLM_PROVIDER_ORDER)
    configs: list[ProviderConfig] = []
    for name, kind in PROVIDER_KINDS.items():
        env = settings.LLM_PROVIDERS.get(name, {})
        row = rows.get(name)
        if row is not None and not row.enabled:
            continue
        api_key, base_url, model, source = env.get("api_key", ""), env.get("base_url", ""), "", "env"
        priority = DEFAULT_PRIORITY
        if row is not None:
            try:
                stored_key = row.api_key
            except DecryptionError:
                logger.error("LLM provider %s: stored key cannot be decrypted; provider skipped", name)
                continue
            api_key = stored_key or api_key
            base_url = row.base_url or base_url
            model = row.default_model
            priority = row.priority
            source = "database"
        usable = bool(base_url) if name == "local" else bool(api_key)
        if not usable:
            continue
        configs.append(
            ProviderConfig(
                name=name,
                kind=kind,
                api_key=api_key,
                base_url=base_url,
                default_model=model or settings.LLM_DEFAULT_MODELS.get(name, ""),
                priority=priority,
                source=source,
            )
        )
    rank = {name: index for index, name in enumerate(order)}
    configs.sort(key=lambda c: (c.priority, rank.get(c.name, len(order))))
    return configs


def model_for(config: ProviderConfig, request: CompletionRequest) -> str:
    if request.model and request.provider == config.name:
        return request.model
    return config.default_model


def record_latency(provider: str, latency_ms: int) -> None:
    """Fold one measurement into the provider's moving average (last writer wins
    between processes; an average does not need more)."""
    state = shared_state()
    key = f"latency:{provider}"
    previous = state.get(key)
    value = float(latency_ms) if previous is None else (1 - _EWMA_ALPHA) * float(previous) + _EWMA_ALPHA * latency_ms
    state.set(key, f"{value:.3f}", _LATENCY_TTL)


def average_latency(provider: str) -> float | None:
    raw = shared_state().get(f"latency:{provider}")
    return None if raw is None else float(raw)


def route(request: CompletionRequest, configs: list[ProviderConfig] | None = None) -> list[ProviderConfig]:
    """The providers to try for ``request``, in order; raises NoProviderConfigured."""
    configs = enabled_providers() if configs is None else configs
    if not configs:
        raise NoProviderConfigured()
    mode = settings.LLM_ROUTING_MODE
    if mode == "cost":
        configs = sorted(configs, key=lambda c: price_for(c.name, model_for(c, request)).blended)
    elif mode == "latency":
        measured = {c.name: average_latency(c.name) for c in configs}
        configs = sorted(configs, key=lambda c: (measured[c.name] is None, measured[c.name] or 0.0))
    if request.provider:
        preferred = [c for c in configs if c.name == request.provider]
        if not preferred and not request.allow_fallback:
            raise NoProviderConfigured(
                f"LLM provider {request.provider!r} was requested without fallback but is not configured "
                "(no API key in the environment and no enabled credential)."
            )
        configs = preferred + [c for c in configs if c.name != request.provider]
    return configs if request.allow_fallback else configs[:1]
