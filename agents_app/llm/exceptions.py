"""Errors of the LLM gateway. No HTTP in them; DomainError carries a status hint."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

from devskyy.core.errors import DomainError, ServiceUnavailableError


class ProviderError(Exception):
    """One provider call failed. ``transient`` errors (timeouts, connection errors,
    429, 5xx) may succeed on another provider or later; permanent ones (400, 401/403,
    404 model) will fail the same way again and must not be retried elsewhere."""

    def __init__(self, provider: str, message: str, *, transient: bool, status: int | None = None) -> None:
        super().__init__(f"{provider}: {message}")
        self.provider = provider
        self.message = message
        self.transient = transient
        self.status = status


@dataclass(frozen=True)
class Attempt:
    """What happened when one provider was tried (or skipped) for a request."""

    provider: str
    model: str
    outcome: str  # ok | transient_error | permanent_error | circuit_open | cache_hit
    detail: str = ""
    status: int | None = None
    latency_ms: int | None = None


class NoProviderConfigured(ServiceUnavailableError):  # noqa: N818 - named by the contract
    code = "llm_not_configured"

    def __init__(self, message: str | None = None) -> None:
        super().__init__(
            message
            or "No LLM provider is configured: set an API key such as OPENAI_API_KEY or ANTHROPIC_API_KEY "
            "(or LOCAL_LLM_BASE_URL), or add an enabled provider credential in the admin."
        )


class AllProvidersFailed(ServiceUnavailableError):  # noqa: N818 - named by the contract
    """Every candidate provider was tried (or skipped) and none answered."""

    code = "llm_unavailable"

    def __init__(self, attempts: list[Attempt]) -> None:
        self.attempts = attempts
        tried = "; ".join(
            f"{a.provider} ({a.model}): {a.outcome}" + (f" - {a.detail}" if a.detail else "") for a in attempts
        )
        super().__init__(
            f"All LLM providers failed: {tried}",
            details={"attempts": [a.__dict__ for a in attempts]},
        )


class ProviderRejected(DomainError):  # noqa: N818 - reads as a sentence: ProviderRejected(request)
    """A provider refused the request for a reason another provider would not fix
    (bad request, bad key, unknown model); no fallback was tried after it."""

    status_code = 502
    code = "llm_request_rejected"

    def __init__(self, error: ProviderError, attempts: list[Attempt]) -> None:
        self.error = error
        self.attempts = attempts
        status = f" (HTTP {error.status})" if error.status else ""
        super().__init__(
            f"LLM provider {error.provider} rejected the request{status}: {error.message}",
            details={"attempts": [a.__dict__ for a in attempts]},
        )


class BudgetExceeded(DomainError):  # noqa: N818 - named by the contract
    status_code = 402
    code = "budget_exceeded"

    def __init__(self, *, agent_slug: str, day: str, limit: Decimal, committed: Decimal, needed: Decimal) -> None:
        self.agent_slug = agent_slug
        super().__init__(
            f"Daily LLM budget of agent {agent_slug} for {day} would be exceeded: limit {limit} USD, "
            f"already spent or reserved {committed} USD, this call may cost up to {needed} USD.",
            details={
                "agent": agent_slug,
                "day": day,
                "limit_usd": str(limit),
                "committed_usd": str(committed),
                "needed_usd": str(needed),
            },
        )


class InvalidLLMRequest(DomainError):  # noqa: N818
    code = "invalid_llm_request"
