"""Tools that need an outside service.

``llm_complete`` runs through the LLM gateway (agents_app.services.thinking);
WooCommerce tools run through commerce_app's sync and outbox services; WordPress tools
live in ``tools/wordpress.py``, 3D and try-on in ``tools/media.py``. Unconfigured ->
``IntegrationNotConfiguredError`` (the API refuses before creating a task); nothing is sent.
"""

from __future__ import annotations

from typing import Any

from django.db import transaction

from agents_app.exceptions import (
    IntegrationNotConfiguredError,
    LLMNotConfiguredError,
    ToolError,
)
from agents_app.integrations import integration_status
from agents_app.tools.base import ToolContext, register
from commerce_app.models import OutboxEntry, Product
from commerce_app.outbox import outbox_add, outbox_push, outbox_push_safely
from commerce_app.sync import shop_sync


def require(integration: str) -> None:
    """Raise the fail-fast error for ``integration`` (used here and by the task service)."""
    if not integration_status()[integration]:
        if integration == "llm":
            raise LLMNotConfiguredError(
                "no LLM provider configured: set one of OPENAI_API_KEY, ANTHROPIC_API_KEY, GOOGLE_AI_API_KEY, "
                "GROQ_API_KEY, MISTRAL_API_KEY or COHERE_API_KEY.",
                details={"requires": integration},
            )
        raise IntegrationNotConfiguredError(
            f"The {integration} integration is not configured.", details={"requires": integration}
        )


@register(
    "llm_complete",
    description="Answer a free-text request with the agent's system prompt and preferred model.",
    category="llm",
    kind="llm",
    requires=("llm",),
    schema={
        "properties": {
            "prompt": {"type": "string", "minLength": 1, "maxLength": 20000},
            "context": {
                "description": "data the answer should use (e.g. earlier workflow results), appended as JSON",
                "type": ["object", "array", "string", "number", "boolean", "null"],
            },
            "max_tokens": {"type": "integer", "minimum": 1, "maximum": 8192},
            "temperature": {"type": "number", "minimum": 0, "maximum": 2},
        },
        "required": ["prompt"],
    },
)
def llm_complete(ctx: ToolContext, params: dict[str, Any]) -> dict[str, Any]:
    """The agent thinks: its system prompt, this prompt and its tools (services.thinking)."""
    from agents_app.services.thinking import agent_think

    require("llm")
    return agent_think(ctx, params)


@register(
    "woocommerce_sync",
    description="Sync now: push pending local changes, then import products, orders or customers from "
    "WooCommerce (incremental from the last sync, or full).",
    category="commerce",
    requires=("woocommerce",),
    schema={
        "properties": {
            "entity": {"type": "string", "enum": ["products", "orders", "customers", "all"]},
            "full": {"type": "boolean"},
        },
        "required": ["entity"],
    },
)
def woocommerce_sync(ctx: ToolContext, params: dict[str, Any]) -> dict[str, Any]:
    require("woocommerce")
    entity = params["entity"]
    pushed = outbox_push_safely()
    ctx.checkpoint(20)
    report = shop_sync(
        full=bool(params.get("full", False)),
        entities=("products", "customers", "orders") if entity == "all" else (entity,),
        agent_id=ctx.agent_slug,
        task_id=ctx.task_id or "",
        actor_label=f"agent:{ctx.agent_slug}",
    )
    return {"push": pushed, "sync": report.as_dict()}


@register(
    "woocommerce_push_product",
    description="Push a product's current price, stock and status to WooCommerce through the outbox (exactly once).",
    category="commerce",
    requires=("woocommerce",),
    schema={"properties": {"sku": {"type": "string", "minLength": 1, "maxLength": 64}}, "required": ["sku"]},
)
def woocommerce_push_product(ctx: ToolContext, params: dict[str, Any]) -> dict[str, Any]:
    require("woocommerce")
    product = Product.objects.filter(sku=params["sku"]).first()
    if product is None:
        raise ToolError(f"No product with SKU {params['sku']!r}.", details={"sku": params["sku"]})
    if product.woocommerce_id is None:
        raise ToolError(f"{product.sku} is not linked to a WooCommerce product.", details={"sku": product.sku})
    with transaction.atomic():
        entry = outbox_add(
            product=product,
            change={"price": product.price, "stock": product.stock, "status": product.status},
            agent_task_id=ctx.task_id or "",
            actor_label=f"agent:{ctx.agent_slug}",
        )
    ctx.checkpoint(30)
    report = outbox_push()
    entry_status = OutboxEntry.objects.filter(pk=entry.pk).values_list("status", flat=True).first() if entry else None
    return {"sku": product.sku, "outbox_entry": entry.pk if entry else None, "status": entry_status, **report.as_dict()}


def check_requirements(requires: frozenset[str]) -> None:
    for integration in sorted(requires):
        require(integration)


__all__ = ["IntegrationNotConfiguredError", "check_requirements", "require"]
