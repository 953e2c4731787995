"""Tools that need an outside service.

Their clients arrive with later issues (LLM gateway: 5, WooCommerce: 6, 3D/try-on and
WordPress: 7+). Until then each one fails fast and says why; none pretends to work:
unconfigured -> ``IntegrationNotConfiguredError`` (the API refuses before creating a task),
configured but no client in this build -> ``IntegrationNotAvailableError``. Nothing is sent.
"""

from __future__ import annotations

from typing import Any

from agents_app.exceptions import IntegrationNotAvailableError, IntegrationNotConfiguredError, LLMNotConfiguredError
from agents_app.integrations import integration_status
from agents_app.tools.base import ToolContext, register

_ARRIVES_WITH = {
    "llm": "issue 5",
    "woocommerce": "issue 6",
    "tripo": "issue 7",
    "fashn": "issue 7",
}


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


def _not_in_this_build(integration: str) -> IntegrationNotAvailableError:
    return IntegrationNotAvailableError(
        f"The {integration} client is not part of this build yet (it arrives with {_ARRIVES_WITH[integration]}); "
        "nothing was sent.",
        details={"requires": integration},
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
            "max_tokens": {"type": "integer", "minimum": 1, "maximum": 8192},
            "temperature": {"type": "number", "minimum": 0, "maximum": 2},
        },
        "required": ["prompt"],
    },
)
def llm_complete(ctx: ToolContext, params: dict[str, Any]) -> dict[str, Any]:
    require("llm")
    raise _not_in_this_build("llm")


@register(
    "woocommerce_sync",
    description="Pull products, orders or customers from WooCommerce (full or incremental).",
    category="commerce",
    requires=("woocommerce",),
    schema={
        "properties": {
            "entity": {"type": "string", "enum": ["products", "orders", "customers"]},
            "full": {"type": "boolean"},
        },
        "required": ["entity"],
    },
)
def woocommerce_sync(ctx: ToolContext, params: dict[str, Any]) -> dict[str, Any]:
    require("woocommerce")
    raise _not_in_this_build("woocommerce")


@register(
    "woocommerce_push_product",
    description="Push a product's price, stock and status to WooCommerce through the outbox.",
    category="commerce",
    requires=("woocommerce",),
    schema={"properties": {"sku": {"type": "string", "minLength": 1, "maxLength": 64}}, "required": ["sku"]},
)
def woocommerce_push_product(ctx: ToolContext, params: dict[str, Any]) -> dict[str, Any]:
    require("woocommerce")
    raise _not_in_this_build("woocommerce")


@register(
    "generate_3d_model",
    description="Generate a 3D model of a product with Tripo from a text prompt or a product image.",
    category="creative",
    requires=("tripo",),
    schema={
        "properties": {
            "sku": {"type": "string", "minLength": 1, "maxLength": 64},
            "prompt": {"type": "string", "minLength": 1, "maxLength": 2000},
            "image_url": {"type": "string", "format": "uri", "maxLength": 2000},
        },
        "anyOf": [{"required": ["prompt"]}, {"required": ["image_url"]}],
    },
)
def generate_3d_model(ctx: ToolContext, params: dict[str, Any]) -> dict[str, Any]:
    require("tripo")
    raise _not_in_this_build("tripo")


@register(
    "virtual_tryon",
    description="Render a garment on a model photo with FASHN.",
    category="creative",
    requires=("fashn",),
    schema={
        "properties": {
            "garment_image_url": {"type": "string", "format": "uri", "maxLength": 2000},
            "model_image_url": {"type": "string", "format": "uri", "maxLength": 2000},
        },
        "required": ["garment_image_url", "model_image_url"],
    },
)
def virtual_tryon(ctx: ToolContext, params: dict[str, Any]) -> dict[str, Any]:
    require("fashn")
    raise _not_in_this_build("fashn")


def check_requirements(requires: frozenset[str]) -> None:
    for integration in sorted(requires):
        require(integration)


__all__ = ["IntegrationNotConfiguredError", "check_requirements", "require"]
