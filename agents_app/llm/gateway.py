"""The LLM gateway: ``complete(request) -> Completion``.

For each provider in routing order: serve a cached answer if there is one (no call,
no spend); otherwise reserve budget, ask the circuit breaker, call the provider with
the per-call timeout, then settle the budget, write the spend ledger, count metrics,
feed the breaker and the latency average, and cache the answer. Transient failures
fall through to the next provider; permanent ones stop (``ProviderRejected``).

A call is split into ``prepare`` (database: budget), ``execute`` (network only, safe
in a worker thread) and ``finish`` (database: ledger, budget), so the Round Table can
run the network part of several calls in parallel while every database write stays on
the caller's thread and connection.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from decimal import Decimal

from django.conf import settings
from django.db import transaction

from agents_app.llm import cache as response_cache
from agents_app.llm.breaker import ProviderBreaker
from agents_app.llm.budget import (
    PLATFORM_BUDGET,
    Reservation,
    budget_release,
    budget_reserve,
    budget_settle,
    estimate_cost,
    today,
)
from agents_app.llm.exceptions import (
    AllProvidersFailed,
    Attempt,
    InvalidLLMRequest,
    NoProviderConfigured,
    ProviderError,
    ProviderRejected,
)
from agents_app.llm.models import Provider, SpendKind, SpendSource
from agents_app.llm.pricing import Price, price_for
from agents_app.llm.providers import ProviderConfig, adapter_for, load_sdks
from agents_app.llm.routing import enabled_providers, model_for, record_latency, route
from agents_app.llm.services import ledger_record
from agents_app.llm.types import ChatMessage, Completion, CompletionRequest, ProviderCall
from devskyy.core.metrics import LLM_CALLS, LLM_COST, LLM_LATENCY, LLM_TOKENS

logger = logging.getLogger(__name__)

USAGE_NOT_REPORTED = "usage_not_reported"


@dataclass
class PreparedCall:
    """A provider call that passed the cache, budget and breaker and may now be made."""

    request: CompletionRequest
    config: ProviderConfig
    call: ProviderCall
    price: Price
    reservation: Reservation
    cache_key: str | None


@dataclass
class Skipped:
    """The provider was not called: the breaker is open."""

    attempt: Attempt


def validate(request: CompletionRequest) -> None:
    if not request.messages:
        raise InvalidLLMRequest("An LLM request needs at least one message.")
    if request.model and not request.provider:
        raise InvalidLLMRequest("A model can only be chosen together with its provider.")
    if request.provider and request.provider not in Provider.values:
        raise InvalidLLMRequest(f"Unknown LLM provider {request.provider!r}.")
    if request.temperature is not None and not 0 <= request.temperature <= 2:
        raise InvalidLLMRequest("temperature must be between 0 and 2.")
    if request.max_tokens is not None and request.max_tokens < 1:
        raise InvalidLLMRequest("max_tokens must be at least 1.")
    if request.timeout is not None and request.timeout <= 0:
        raise InvalidLLMRequest("timeout must be positive.")


def provider_call(request: CompletionRequest, config: ProviderConfig) -> ProviderCall:
    return ProviderCall(
        messages=list(request.messages),
        model=model_for(config, request),
        max_tokens=request.max_tokens or settings.LLM_DEFAULT_MAX_TOKENS,
        temperature=request.temperature,
        tools=list(request.tools),
        timeout=request.timeout or settings.LLM_TIMEOUT_SECONDS,
    )


def product_versions(request: CompletionRequest) -> dict[str, str] | None:
    """Version tokens of the request's products, or None when it must not be cached."""
    if not (request.use_cache and response_cache.enabled()):
        return None
    return response_cache.product_versions(request.product_ids)


def cached_answer(
    request: CompletionRequest, config: ProviderConfig, versions: dict[str, str] | None
) -> tuple[Completion | None, str | None]:
    if versions is None:
        return None, None
    call = provider_call(request, config)
    key = response_cache.response_key(call=call, provider=config.name, versions=versions)
    hit = response_cache.lookup(key)
    if hit is not None:
        LLM_CALLS.labels(config.name, "cache_hit").inc()
    return hit, key


def prepare(request: CompletionRequest, config: ProviderConfig, cache_key: str | None) -> PreparedCall | Skipped:
    """Reserve budget (raises BudgetExceeded) and ask the breaker."""
    call = provider_call(request, config)
    price = price_for(config.name, call.model)
    reservation = budget_reserve(agent_slug=request.agent_slug, amount=estimate_cost(call, price))
    if not ProviderBreaker(config.name).allow():
        budget_release(reservation=reservation)
        LLM_CALLS.labels(config.name, "circuit_open").inc()
        return Skipped(Attempt(config.name, call.model, "circuit_open", "circuit breaker open; provider skipped"))
    return PreparedCall(request, config, call, price, reservation, cache_key)


def execute(prepared: PreparedCall) -> Completion | ProviderError:
    """The network part; touches no database. Feeds the breaker and latency average."""
    breaker = ProviderBreaker(prepared.config.name)
    try:
        completion = adapter_for(prepared.config).complete(prepared.call)
    except ProviderError as error:
        if error.transient:
            breaker.record_failure()
        return error
    breaker.record_success()
    record_latency(prepared.config.name, completion.latency_ms)
    return completion


def finish(prepared: PreparedCall, result: Completion | ProviderError) -> Completion | ProviderError:
    """Settle the budget and write the ledger (one transaction), count metrics, cache."""
    if isinstance(result, ProviderError):
        finish_failure(prepared, result)
        return result
    return finish_success(prepared, result)


def finish_failure(prepared: PreparedCall, error: ProviderError) -> None:
    name = prepared.config.name
    LLM_CALLS.labels(name, "transient_error" if error.transient else "permanent_error").inc()
    logger.warning(
        "LLM call to %s (%s) failed: %s%s",
        name,
        prepared.call.model,
        error.message,
        f" [HTTP {error.status}]" if error.status else "",
    )
    with transaction.atomic():
        budget_release(reservation=prepared.reservation)
        _ledger(prepared, amount=Decimal("0"), price_source="", outcome="error", error=error)


def finish_success(prepared: PreparedCall, result: Completion) -> Completion:
    name = prepared.config.name
    usage = result.usage
    if usage.reported:
        result.cost_usd = prepared.price.cost(usage.prompt_tokens, usage.completion_tokens)
        result.price_source = prepared.price.source
        charged = result.cost_usd
    else:
        # The server sent no usage: the ledger says so instead of inventing tokens, and
        # the budget keeps the reserved upper bound so limits stay safe.
        result.price_source = USAGE_NOT_REPORTED
        charged = prepared.reservation.amount
    with transaction.atomic():
        budget_settle(reservation=prepared.reservation, actual=charged)
        _ledger(prepared, amount=result.cost_usd, price_source=result.price_source, outcome="ok", completion=result)
    LLM_CALLS.labels(name, "ok").inc()
    LLM_LATENCY.labels(name).observe(result.latency_ms / 1000)
    if usage.reported:
        LLM_TOKENS.labels(name, "prompt").inc(usage.prompt_tokens)
        LLM_TOKENS.labels(name, "completion").inc(usage.completion_tokens)
        LLM_COST.labels(name).inc(float(result.cost_usd))
    if prepared.cache_key is not None:
        response_cache.store(prepared.cache_key, result)
    return result


def _ledger(
    prepared: PreparedCall,
    *,
    amount: Decimal,
    price_source: str,
    outcome: str,
    completion: Completion | None = None,
    error: ProviderError | None = None,
) -> None:
    request = prepared.request
    reported = completion is not None and completion.usage.reported
    details: dict[str, object] = {"reserved_usd": str(prepared.reservation.amount)}
    if completion is not None:
        details["finish_reason"] = completion.finish_reason
        if not reported:
            details["usage_reported"] = False
    if error is not None:
        details["transient"] = error.transient
        if error.status:
            details["status"] = error.status
    ledger_record(
        kind=SpendKind.LLM,
        amount=amount,
        source=SpendSource.PROVIDER_USAGE,
        price_source=price_source,
        provider=prepared.config.name,
        model=completion.model if completion else prepared.call.model,
        outcome=outcome,
        error=error.message if error else "",
        prompt_tokens=completion.usage.prompt_tokens if completion and reported else None,
        completion_tokens=completion.usage.completion_tokens if completion and reported else None,
        latency_ms=completion.latency_ms if completion else None,
        agent_slug=request.agent_slug,
        task_id=request.task_id,
        product_refs=request.product_ids,
        campaign_ref=request.campaign_ref,
        purpose=request.purpose,
        details=details,
    )


def complete(request: CompletionRequest) -> Completion:
    """Answer ``request`` from the cache or the first provider that can.

    Raises NoProviderConfigured (nothing enabled), BudgetExceeded (before any paid
    call), ProviderRejected (a permanent error: no fallback) or AllProvidersFailed
    (every provider failed transiently or had its circuit open).
    """
    validate(request)
    candidates = route(request)
    versions = product_versions(request)
    attempts: list[Attempt] = []
    for config in candidates:
        hit, key = cached_answer(request, config, versions)
        if hit is not None:
            attempts.append(Attempt(config.name, hit.model, "cache_hit"))
            hit.attempts = attempts
            return hit
        # A process's first provider call imports the SDKs (~2 s of CPU, once):
        # here, before any breaker, deadline or latency clock starts.
        load_sdks()
        prepared = prepare(request, config, key)
        if isinstance(prepared, Skipped):
            attempts.append(prepared.attempt)
            continue
        result = finish(prepared, execute(prepared))
        if isinstance(result, Completion):
            attempts.append(Attempt(config.name, result.model, "ok", latency_ms=result.latency_ms))
            result.attempts = attempts
            return result
        outcome = "transient_error" if result.transient else "permanent_error"
        attempts.append(Attempt(config.name, prepared.call.model, outcome, result.message, result.status))
        if not result.transient:
            raise ProviderRejected(result, attempts)
    raise AllProvidersFailed(attempts)


def probe_provider(name: str, *, timeout: float | None = None) -> Completion:
    """One small real call to ``name`` for ``check_providers``: no cache, no budget,
    breaker untouched; the spend is recorded in the ledger (purpose check_providers)."""
    configs = {c.name: c for c in enabled_providers()}
    if name not in configs:
        raise NoProviderConfigured(f"LLM provider {name!r} is not enabled.")
    request = CompletionRequest(
        messages=[ChatMessage(role="user", content="Reply with the single word OK.")],
        max_tokens=16,
        temperature=0,
        timeout=timeout,
        purpose="check_providers",
        use_cache=False,
    )
    config = configs[name]
    call = provider_call(request, config)
    # Nothing reserved (an operator's check is not refused), but its real cost is
    # still counted as platform spend for today.
    reservation = Reservation(None, PLATFORM_BUDGET, today(), Decimal("0"))
    prepared = PreparedCall(request, config, call, price_for(name, call.model), reservation, None)
    try:
        completion = adapter_for(config).complete(call)
    except ProviderError as error:
        finish_failure(prepared, error)
        raise
    return finish_success(prepared, completion)
