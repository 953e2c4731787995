"""The marketing agent writes a campaign's copy: one gateway call per variant.

Runs as the agent's ``campaign_write_copy`` task (a queue worker), so the work is a
visible task with its steps streamed, and every call is in the spend ledger with the
campaign's ``campaign_ref`` (purpose ``campaign_copy``). The agent's system prompt
and preferred provider/model apply, with the gateway's fallback. The answer must use
the section headers the prompt asks for (``SUBJECT:``, ``EMAIL:``, ``SMS:``,
``SOCIAL:``); a single-channel answer without headers is taken whole. Before each call
the campaign's recorded spend is checked against its budget.
"""

from __future__ import annotations

import json
import re
from decimal import Decimal
from typing import Any

from django.conf import settings

from agents_app.exceptions import AgentNotFoundError, LeaseLost, TaskCancelled, ToolError
from agents_app.llm.gateway import complete
from agents_app.llm.models import SpendLedgerEntry
from agents_app.llm.types import ChatMessage, Completion, CompletionRequest
from agents_app.marketing import placeholders
from agents_app.marketing.exceptions import CampaignBudgetExceededError, InvalidCopyError
from agents_app.marketing.models import Campaign, CampaignStatus, Channel
from agents_app.marketing.selectors import campaign_spend
from agents_app.marketing.services import LABELS, VariantCopy, campaign_copy_failed, campaign_copy_written
from agents_app.models import Agent
from agents_app.tools.base import ToolContext
from devskyy.core.errors import DomainError

_HEADERS = {"SUBJECT": "subject", "EMAIL": "email_body", "SMS": "sms_body", "SOCIAL": "social_body"}
_HEADER_LINE = re.compile(r"^\s*\**\s*(SUBJECT|EMAIL|SMS|SOCIAL)\s*\**\s*:\s*\**\s*(.*)$", re.IGNORECASE | re.MULTILINE)
_FORMAT: dict[str, str] = {
    Channel.EMAIL: "SUBJECT: <email subject line, under 60 characters>\nEMAIL:\n<the email body>",
    Channel.SMS: "SMS:\n<the SMS text, at most 160 characters, ending with 'Reply STOP to opt out'>",
    Channel.SOCIAL: "SOCIAL:\n<one social media post; no placeholders, it is not personalised>",
}


def _needed(channels: tuple[str, ...]) -> list[str]:
    fields = []
    for channel in channels:
        fields += ["subject", "email_body"] if channel == Channel.EMAIL else [f"{channel}_body"]
    return fields


def build_prompt(campaign: Campaign, label: str, count: int, earlier: list[VariantCopy]) -> str:
    audience = json.dumps(campaign.target_audience, sort_keys=True)
    allowed = ", ".join("{" + name + "}" for name in placeholders.PLACEHOLDERS)
    parts = [
        f'Write variant {label} of {count} of the {campaign.get_campaign_type_display()} campaign "{campaign.name}".',
        f"Brief from the marketing team:\n{campaign.content_template}",
        f"Audience filter: {audience} ({campaign.audience_size} customers matched when the campaign was created).",
        f"You may personalise with these placeholders, written exactly like this: {allowed}. "
        "Use no other placeholders or curly braces.",
    ]
    if earlier:
        shown = "\n".join(
            f"- {v.label}: {(v.subject or v.email_body or v.sms_body or v.social_body)[:200]}" for v in earlier
        )
        parts.append(f"This is an A/B test: take a clearly different angle from the earlier variants:\n{shown}")
    parts.append(
        "Answer in exactly this format, nothing before or after:\n"
        + "\n".join(_FORMAT[channel] for channel in campaign.channels)
    )
    return "\n\n".join(parts)


def parse_copy(text: str, channels: tuple[str, ...]) -> tuple[dict[str, str], list[str]]:
    """Sections of the model's answer by field, unknown placeholders removed; raises
    InvalidCopyError when a section the channels need is missing or empty."""
    needed = _needed(channels)
    matches = list(_HEADER_LINE.finditer(text))
    sections: dict[str, str] = {}
    for i, match in enumerate(matches):
        end = matches[i + 1].start() if i + 1 < len(matches) else len(text)
        body = (match.group(2) + text[match.end() : end]).strip()
        sections.setdefault(_HEADERS[match.group(1).upper()], body)
    if not matches and len(needed) == 1:
        sections[needed[0]] = text.strip()
    missing = [name for name in needed if not sections.get(name)]
    if missing:
        raise InvalidCopyError(
            f"The model's answer lacks {', '.join(missing)}; nothing was scheduled.",
            details={"missing": missing, "answer": text[:2000]},
        )
    removed: list[str] = []
    cleaned: dict[str, str] = {}
    for name in needed:
        value, gone = placeholders.strip_unknown(sections[name])
        cleaned[name] = value.strip()
        removed += gone
    if "subject" in cleaned:
        # One line: a header never carries a line break (e-mail header injection).
        cleaned["subject"] = " ".join(cleaned["subject"].split())[:300]
    return cleaned, sorted(set(removed))


def _check_budget(campaign: Campaign) -> None:
    if campaign.budget is None:
        return
    spent = campaign_spend(campaign.id)
    if spent >= campaign.budget:
        raise CampaignBudgetExceededError(
            f"The campaign has spent {spent:.6f} USD of its {campaign.budget} budget.",
            details={"campaign_id": str(campaign.id), "spent_usd": str(spent), "budget": str(campaign.budget)},
        )


def _step(completion: Completion, number: int, label: str) -> dict[str, Any]:
    return {
        "step": number,
        "type": "model",
        "variant": label,
        "provider": completion.provider,
        "model": completion.model,
        "finish_reason": completion.finish_reason,
        "text": completion.text,
        "tool_calls": [],
        "prompt_tokens": completion.usage.prompt_tokens,
        "completion_tokens": completion.usage.completion_tokens,
        "cost_usd": str(completion.cost_usd),
        "latency_ms": completion.latency_ms,
        "cached": completion.cached,
    }


def _write_variants(ctx: ToolContext, campaign: Campaign, agent: Agent) -> list[VariantCopy]:
    count = max(1, int(campaign.ab_test.get("variants", 1)))
    provider = agent.preferred_provider or None
    written: list[VariantCopy] = []
    seen: set[str] = set()
    for number, label in enumerate(LABELS[:count], start=1):
        ctx.checkpoint(5 + 90 * (number - 1) // count)
        _check_budget(campaign)
        messages = [ChatMessage(role="system", content=agent.system_prompt)] if agent.system_prompt else []
        messages.append(ChatMessage(role="user", content=build_prompt(campaign, label, count, written)))
        completion = complete(
            CompletionRequest(
                messages=messages,
                provider=provider,
                model=(agent.preferred_model or None) if provider else None,
                max_tokens=settings.MARKETING_COPY_MAX_TOKENS,
                # Each campaign gets copy written for it (and paid for in its ledger rows).
                use_cache=False,
                agent_slug=agent.slug,
                task_id=ctx.task_id or "",
                campaign_ref=str(campaign.id),
                purpose="campaign_copy",
            )
        )
        step = _step(completion, number, label)
        record = getattr(ctx, "record_step", None)
        if record is not None:
            summary = {k: step[k] for k in ("variant", "provider", "model", "prompt_tokens", "completion_tokens")}
            record(step, progress=5 + 90 * number // count, summary={"number": number, "type": "model", **summary})
        ledger_ids = [
            str(pk)
            for pk in SpendLedgerEntry.objects.filter(campaign_ref=str(campaign.id), task_id=ctx.task_id or "")
            .exclude(pk__in=seen)
            .values_list("pk", flat=True)
        ]
        seen.update(ledger_ids)
        fields, removed = parse_copy(completion.text, campaign.channels)
        written.append(
            VariantCopy(
                label=label,
                provider=completion.provider,
                model=completion.model,
                cost_usd=completion.cost_usd or Decimal("0"),
                ledger_entry_ids=ledger_ids,
                raw_text=completion.text,
                removed_placeholders=removed,
                **fields,
            )
        )
    return written


def write_campaign_copy(ctx: ToolContext, params: dict[str, Any]) -> dict[str, Any]:
    """The ``campaign_write_copy`` tool: write the variants, then schedule the campaign.

    A failure (no provider left, budget, unusable answer, cancel) fails the draft
    campaign with the task's error code, except a lost lease (another attempt owns the
    task and will finish the job)."""
    campaign = Campaign.objects.filter(pk=params["campaign_id"]).first()
    if campaign is None:
        raise ToolError("No such campaign.", details={"campaign_id": params["campaign_id"]}, code="campaign_not_found")
    if campaign.status != CampaignStatus.DRAFT:
        return {"campaign_id": str(campaign.id), "status": campaign.status, "written": False}
    agent = Agent.objects.filter(slug=ctx.agent_slug).first()
    if agent is None:
        raise AgentNotFoundError(f"No agent {ctx.agent_slug!r}.", details={"agent_id": ctx.agent_slug})
    try:
        variants = _write_variants(ctx, campaign, agent)
    except LeaseLost:
        raise
    except TaskCancelled:
        campaign_copy_failed(campaign_id=str(campaign.id), error="the copy task was cancelled", code="cancelled")
        raise
    except DomainError as exc:
        campaign_copy_failed(campaign_id=str(campaign.id), error=exc.message, code=exc.code)
        raise
    except Exception as exc:
        campaign_copy_failed(
            campaign_id=str(campaign.id), error=f"internal error ({type(exc).__name__})", code="internal"
        )
        raise
    campaign = campaign_copy_written(campaign_id=str(campaign.id), variants=variants)
    return {
        "campaign_id": str(campaign.id),
        "status": campaign.status,
        "written": True,
        "provider": variants[-1].provider,
        "model": variants[-1].model,
        "variants": [
            {
                "label": v.label,
                "subject": v.subject,
                "email_body": v.email_body,
                "sms_body": v.sms_body,
                "social_body": v.social_body,
                "removed_placeholders": v.removed_placeholders,
            }
            for v in variants
        ],
    }
