"""Workflow templates as data: each one a function of its parameters returning a DAG of
agent actions over the catalog's agents and tools (validated like a custom graph).

Tool steps read the shop's data and need no LLM; the LLM steps (``llm_complete``)
receive earlier results by reference (``{"$ref": "steps.<id>.result.<path>"}``, in
their ``context``) and fail clearly when no provider is configured. ``policy`` is what
a failed step does to its dependents (``skip``: they are skipped, other branches go
on; ``fail``: they fail and the run stops).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from agents_app.tools.common import LIMIT, NAME_FILTER, PERIOD_DAYS

Step = dict[str, Any]


@dataclass(frozen=True)
class Template:
    name: str
    description: str
    schema: dict[str, Any]  # JSON schema of the request's ``parameters``
    policy: str
    build: Callable[[dict[str, Any]], list[Step]]


def ref(path: str) -> dict[str, str]:
    return {"$ref": path}


def _step(step_id: str, agent: str, action: str, parameters: Step, depends_on: list[str] | None = None) -> Step:
    return {"id": step_id, "agent": agent, "action": action, "parameters": parameters, "depends_on": depends_on or []}


def _only(params: dict[str, Any], *keys: str) -> dict[str, Any]:
    return {k: params[k] for k in keys if k in params}


_PERIOD = {"type": "string", "enum": list(PERIOD_DAYS)}


def _product_launch(p: dict[str, Any]) -> list[Step]:
    period = p.get("period", "quarter")
    return [
        _step("product", "commerce-001", "product_lookup", {"sku": p["sku"]}),
        _step("stock", "commerce-001", "stock_query", {"skus": [p["sku"]]}),
        _step("collection_sales", "commerce-005", "sales_summary", {"period": period, "group_by": "collection"}),
        _step(
            "copy",
            "creative-004",
            "llm_complete",
            {
                "prompt": "Write the launch product description (about 120 words) and three short taglines for this "
                "product, using only the product facts given.",
                "context": {"product": ref("steps.product.result"), "stock": ref("steps.stock.result.items")},
            },
            ["product", "stock"],
        ),
        _step(
            "announcement",
            "marketing-008",
            "llm_complete",
            {
                "prompt": "Plan the launch announcement: channels, timing and the message, given the product copy "
                "and how its collection sells.",
                "context": {
                    "copy": ref("steps.copy.result.text"),
                    "collection_sales": ref("steps.collection_sales.result.rows"),
                },
            },
            ["copy", "collection_sales"],
        ),
    ]


def _campaign_optimization(p: dict[str, Any]) -> list[Step]:
    period = p.get("period", "quarter")
    return [
        _step("segments", "marketing-001", "customer_segments", {}),
        _step("top_customers", "marketing-001", "top_customers", {"period": period, "limit": p.get("limit", 20)}),
        _step("sales", "marketing-001", "sales_summary", {"period": period, "group_by": "collection"}),
        _step(
            "plan",
            "marketing-001",
            "llm_complete",
            {
                "prompt": "Recommend how to re-allocate campaign effort across customer segments and collections: "
                f"three concrete actions with the figures that justify them. Goal: {p.get('goal', 'revenue')}.",
                "context": {
                    "segments": ref("steps.segments.result.segments"),
                    "top_customers": ref("steps.top_customers.result.customers"),
                    "sales_by_collection": ref("steps.sales.result.rows"),
                },
            },
            ["segments", "top_customers", "sales"],
        ),
    ]


def _inventory_optimization(p: dict[str, Any]) -> list[Step]:
    scope = _only(p, "collection")
    return [
        _step("low_stock", "operations-005", "low_stock_report", {"threshold": p.get("threshold", 5), **scope}),
        _step("valuation", "operations-005", "inventory_valuation", scope),
        _step("margins", "operations-003", "margin_report", {**scope, "limit": 20}),
        _step(
            "plan",
            "operations-007",
            "llm_complete",
            {
                "prompt": "Propose a reorder and markdown plan: which SKUs to reorder (units), which to discount, "
                "and the stock value at stake.",
                "context": {
                    "low_stock": ref("steps.low_stock.result.items"),
                    "valuation": ref("steps.valuation.result.totals"),
                    "lowest_margins": ref("steps.margins.result.products"),
                },
            },
            ["low_stock", "valuation", "margins"],
        ),
    ]


def _customer_reengagement(p: dict[str, Any]) -> list[Step]:
    rules = _only(p, "recent_days", "lapsed_days")
    return [
        _step("segments", "marketing-006", "customer_segments", {**rules, "include_members": True}),
        _step("picks", "marketing-002", "catalog_search", {"in_stock": True, "limit": p.get("products", 8)}),
        _step(
            "email",
            "marketing-002",
            "llm_complete",
            {
                "prompt": "Write a win-back e-mail (subject and body) for lapsed customers featuring a few of these "
                "in-stock products, and say which segment receives it.",
                "context": {
                    "at_risk": ref("steps.segments.result.segments.at_risk"),
                    "hibernating_count": ref("steps.segments.result.segments.hibernating.customers"),
                    "products": ref("steps.picks.result.products"),
                },
            },
            ["segments", "picks"],
        ),
    ]


def _schema(properties: dict[str, Any], required: list[str] | None = None) -> dict[str, Any]:
    return {"type": "object", "additionalProperties": False, "properties": properties, "required": required or []}


TEMPLATES: dict[str, Template] = {
    t.name: t
    for t in (
        Template(
            "product_launch",
            "Product facts and stock, collection sales, then launch copy and an announcement plan.",
            _schema({"sku": {"type": "string", "minLength": 1, "maxLength": 64}, "period": _PERIOD}, ["sku"]),
            "skip",
            _product_launch,
        ),
        Template(
            "campaign_optimization",
            "Customer segments, top customers and collection sales feed a campaign re-allocation plan.",
            _schema(
                {"period": _PERIOD, "limit": {"type": "integer", "minimum": 1, "maximum": 100}, "goal": NAME_FILTER}
            ),
            "skip",
            _campaign_optimization,
        ),
        Template(
            "inventory_optimization",
            "Low stock, inventory value and margins feed a reorder and markdown plan.",
            _schema({"threshold": {"type": "integer", "minimum": 0, "maximum": 100000}, "collection": NAME_FILTER}),
            "fail",
            _inventory_optimization,
        ),
        Template(
            "customer_reengagement",
            "Lapsed customers and in-stock picks feed a win-back e-mail.",
            _schema(
                {
                    "recent_days": {"type": "integer", "minimum": 7, "maximum": 180},
                    "lapsed_days": {"type": "integer", "minimum": 30, "maximum": 730},
                    "products": LIMIT,
                }
            ),
            "skip",
            _customer_reengagement,
        ),
    )
}
