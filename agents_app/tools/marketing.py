"""Marketing campaign tools: audience preview, copy writing, results."""

from __future__ import annotations

from typing import Any

from agents_app.exceptions import ToolError
from agents_app.marketing.audience import AUDIENCE_SCHEMA, preview
from agents_app.marketing.copy import write_campaign_copy
from agents_app.marketing.exceptions import CampaignNotFoundError
from agents_app.marketing.selectors import campaign_get, campaign_results
from agents_app.tools.base import ToolContext, register

_CAMPAIGN_ID = {"type": "string", "format": "uuid", "pattern": "^[0-9a-fA-F-]{36}$"}


@register(
    "campaign_audience",
    description="Size and a sample of the real customers a campaign audience filter matches (segment, RFM, "
    "purchase history, country, consent).",
    category="marketing",
    schema={
        "properties": {
            "target_audience": AUDIENCE_SCHEMA,
            "sample": {"type": "integer", "minimum": 0, "maximum": 50},
        },
        "required": ["target_audience"],
    },
)
def campaign_audience(ctx: ToolContext, params: dict[str, Any]) -> dict[str, Any]:
    ctx.checkpoint(10)
    return preview(params["target_audience"], sample=params.get("sample", 10))


@register(
    "campaign_write_copy",
    description="Write a draft campaign's copy variants (A/B) through the LLM gateway and schedule it.",
    category="marketing",
    kind="llm",
    requires=("llm",),
    schema={"properties": {"campaign_id": _CAMPAIGN_ID}, "required": ["campaign_id"]},
)
def campaign_write_copy(ctx: ToolContext, params: dict[str, Any]) -> dict[str, Any]:
    return write_campaign_copy(ctx, params)


@register(
    "campaign_results",
    description="A campaign's results: messages per variant, channel and status; orders and revenue attributed "
    "to each variant (opens and clicks are not tracked).",
    category="marketing",
    schema={"properties": {"campaign_id": _CAMPAIGN_ID}, "required": ["campaign_id"]},
)
def campaign_results_tool(ctx: ToolContext, params: dict[str, Any]) -> dict[str, Any]:
    ctx.checkpoint(10)
    try:
        campaign = campaign_get(params["campaign_id"])
    except CampaignNotFoundError as exc:
        raise ToolError(exc.message, details=exc.details, code=exc.code) from None
    return {
        "campaign_id": str(campaign.id),
        "name": campaign.name,
        "status": campaign.status,
        **campaign_results(campaign),
    }
