"""Domain errors of marketing campaigns (no HTTP here; devskyy.core.errors maps them)."""

from __future__ import annotations

from devskyy.core.errors import ConflictError, DomainError, NotFoundError


class InvalidAudienceError(DomainError):
    """``target_audience`` does not match the audience schema; ``details.errors`` lists why."""

    code = "invalid_audience"


class InvalidCampaignError(DomainError):
    """Another part of a campaign request is invalid; ``details.errors`` lists why."""

    code = "invalid_campaign"


class CampaignNotFoundError(NotFoundError):
    code = "campaign_not_found"


class CampaignStateError(ConflictError):
    """The campaign's status does not allow the action (e.g. cancel a completed one)."""

    code = "campaign_state_conflict"


class CampaignBudgetExceededError(DomainError):
    status_code = 402
    code = "campaign_budget_exceeded"


class InvalidCopyError(DomainError):
    """The model's answer held no usable copy for a channel."""

    status_code = 422
    code = "invalid_copy"
