"""WordPress tools: publish/update posts and pages, product pages, and the block theme generator."""

from __future__ import annotations

from typing import Any

from agents_app.capabilities import theme, wordpress
from agents_app.exceptions import ToolError
from agents_app.tools.base import ToolContext, register
from agents_app.tools.integrations import require
from commerce_app import selectors

_KIND = {"type": "string", "enum": list(wordpress.KINDS)}
_STATUS = {"type": "string", "enum": list(wordpress.STATUSES)}


@register(
    "wordpress_publish",
    description="Publish a post or page on the brand's WordPress site (draft by default); returns its id and link.",
    category="marketing",
    requires=("wordpress",),
    schema={
        "properties": {
            "title": {"type": "string", "minLength": 1, "maxLength": 300},
            "content": {"type": "string", "minLength": 1, "maxLength": 200000},
            "kind": _KIND,
            "status": _STATUS,
            "excerpt": {"type": "string", "maxLength": 2000},
            "slug": {"type": "string", "pattern": r"^[a-z0-9-]{1,200}$"},
        },
        "required": ["title", "content"],
    },
)
def wordpress_publish(ctx: ToolContext, params: dict[str, Any]) -> dict[str, Any]:
    require("wordpress")
    return wordpress.content_publish(
        kind=params.get("kind", "post"),
        title=params["title"],
        content=params["content"],
        status=params.get("status", "draft"),
        excerpt=params.get("excerpt", ""),
        slug=params.get("slug", ""),
    )


@register(
    "wordpress_update",
    description="Update an existing WordPress post or page (title, content, excerpt, status).",
    category="marketing",
    requires=("wordpress",),
    schema={
        "properties": {
            "id": {"type": "integer", "minimum": 1},
            "kind": _KIND,
            "title": {"type": "string", "minLength": 1, "maxLength": 300},
            "content": {"type": "string", "minLength": 1, "maxLength": 200000},
            "excerpt": {"type": "string", "maxLength": 2000},
            "status": _STATUS,
        },
        "required": ["id"],
        "anyOf": [{"required": [f]} for f in ("title", "content", "excerpt", "status")],
    },
)
def wordpress_update(ctx: ToolContext, params: dict[str, Any]) -> dict[str, Any]:
    require("wordpress")
    fields = {k: params[k] for k in ("title", "content", "excerpt", "status") if k in params}
    return wordpress.content_update(kind=params.get("kind", "post"), object_id=params["id"], fields=fields)


@register(
    "wordpress_publish_product",
    description="Publish a WordPress page or post for a product from the catalog (image, description, price).",
    category="marketing",
    requires=("wordpress",),
    schema={
        "properties": {
            "sku": {"type": "string", "minLength": 1, "maxLength": 64},
            "kind": _KIND,
            "status": _STATUS,
            "id": {"type": "integer", "minimum": 1, "description": "update this existing post/page instead"},
        },
        "required": ["sku"],
    },
)
def wordpress_publish_product(ctx: ToolContext, params: dict[str, Any]) -> dict[str, Any]:
    require("wordpress")
    product = selectors.products_by_sku([params["sku"]]).get(params["sku"])
    if product is None:
        raise ToolError(f"No product with SKU {params['sku']!r}.", details={"sku": params["sku"]})
    content = wordpress.product_content_html(
        name=product.name,
        description=product.description,
        price=str(product.price),
        currency=product.currency,
        images=list(product.images or []),
    )
    kind = params.get("kind", "page")
    fields = {"title": product.name, "content": content, "status": params.get("status", "draft")}
    if "id" in params:
        result = wordpress.content_update(kind=kind, object_id=params["id"], fields=fields)
    else:
        result = wordpress.content_publish(kind=kind, title=product.name, content=content, status=fields["status"])
    return {**result, "sku": product.sku}


@register(
    "wordpress_generate_theme",
    description="Build an installable WordPress block theme (zip) in the given palette and fonts, with WooCommerce "
    "templates; returns its download URL.",
    category="creative",
    schema={
        "properties": {
            "name": {"type": "string", "minLength": 1, "maxLength": 120},
            "slug": {"type": "string", "maxLength": 60},
            "description": {"type": "string", "maxLength": 300},
            "author": {"type": "string", "maxLength": 120},
            "author_uri": {"type": "string", "maxLength": 200},
            "version": {"type": "string", "maxLength": 11},
            "palette": {
                "type": "array",
                "minItems": 1,
                "maxItems": 16,
                "items": {
                    "type": "object",
                    "properties": {"slug": {"type": "string"}, "name": {"type": "string"}, "color": {"type": "string"}},
                    "required": ["slug", "name", "color"],
                    "additionalProperties": False,
                },
            },
            "fonts": {"type": "object"},
        },
        "required": ["name"],
    },
)
def wordpress_generate_theme(ctx: ToolContext, params: dict[str, Any]) -> dict[str, Any]:
    return theme.theme_generate(spec=theme.spec_from_input(params)).as_dict()
