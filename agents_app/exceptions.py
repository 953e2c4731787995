"""Domain errors of the agents app (no HTTP here; devskyy.core.errors maps them)."""

from __future__ import annotations

from typing import Any

from devskyy.core.errors import ConflictError, DomainError, NotFoundError, ServiceUnavailableError


class AgentNotFoundError(NotFoundError):
    code = "agent_not_found"


class TaskNotFoundError(NotFoundError):
    code = "task_not_found"


class WorkflowNotFoundError(NotFoundError):
    code = "workflow_not_found"


class RoundTableNotFoundError(NotFoundError):
    code = "round_table_not_found"


class UnknownToolError(NotFoundError):
    code = "unknown_tool"


class ToolNotAllowedError(DomainError):
    code = "tool_not_allowed"


class ToolInputInvalidError(DomainError):
    """Parameters do not match the tool's JSON schema; ``details`` lists each error."""

    code = "invalid_tool_input"


class ToolError(DomainError):
    """A tool ran and refused or failed for a reason the caller can fix (permanent)."""

    status_code = 422
    code = "tool_error"


class IntegrationNotConfiguredError(ServiceUnavailableError):
    code = "integration_not_configured"


class LLMNotConfiguredError(IntegrationNotConfiguredError):
    code = "llm_not_configured"


class IntegrationNotAvailableError(ServiceUnavailableError):
    """Configured, but this build has no client for it yet; nothing was sent anywhere."""

    code = "integration_not_available"


class AgentStoppedError(ConflictError):
    code = "agent_stopped"


class TaskNotCancellableError(ConflictError):
    code = "task_not_cancellable"


class IdempotencyConflictError(ConflictError):
    code = "idempotency_key_reused"


def check_same_request(stored_hash: str, digest: str, *, details: dict[str, Any]) -> None:
    """A request reused an Idempotency-Key: it must be the request stored under it."""
    if stored_hash != digest:
        raise IdempotencyConflictError(
            "This Idempotency-Key was already used with a different request body.", details=details
        )


class TaskCancelled(Exception):  # noqa: N818 - control flow, not an error
    """Raised by ``ToolContext.checkpoint`` when a cancel was requested."""


class LeaseLost(Exception):  # noqa: N818 - control flow, not an error
    """This attempt no longer owns the task (its lease expired and another claimed it)."""
