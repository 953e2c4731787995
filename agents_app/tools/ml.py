"""ML prediction tools: one per model of agents_app.capabilities.ml (shop data unless ``data`` is given)."""

from __future__ import annotations

from typing import Any

from agents_app.capabilities.ml import DATA_SCHEMAS, DEFAULT_CONFIDENCE, MODEL_TYPES, PARAMETER_SCHEMAS, predict
from agents_app.tools.base import ToolContext, ToolFunction, register

_DESCRIPTIONS = {
    "demand_forecasting": "Weekly demand forecast per SKU (Holt smoothing) with prediction intervals and reorder "
    "units, from order history or given series.",
    "customer_segmentation": "Customer segments from recency/frequency/monetary features with k-means: sizes, "
    "medians and a description of each.",
    "dynamic_pricing": "Price recommendation per product from its estimated price elasticity, within margin and "
    "discount bounds; holds when the elasticity is not significant.",
    "trend_prediction": "Sales velocity and acceleration per category or collection, with the direction of travel.",
    "sentiment_analysis": "Sentiment of given texts (reviews, messages) with the offline VADER lexicon.",
}
_CATEGORIES = {
    "demand_forecasting": "analytics",
    "customer_segmentation": "analytics",
    "dynamic_pricing": "commerce",
    "trend_prediction": "analytics",
    "sentiment_analysis": "support",
}


def _make(model_type: str) -> ToolFunction:
    def run(ctx: ToolContext, params: dict[str, Any]) -> dict[str, Any]:
        ctx.checkpoint(10)
        return predict(
            model_type=model_type,
            data=params.get("data"),
            parameters=params.get("parameters"),
            confidence_threshold=params.get("confidence_threshold", DEFAULT_CONFIDENCE),
        )

    run.__name__ = f"ml_{model_type}"
    return run


for _model_type in MODEL_TYPES:
    register(
        f"ml_{_model_type}",
        description=_DESCRIPTIONS[_model_type],
        category=_CATEGORIES[_model_type],
        schema={
            "properties": {
                "data": DATA_SCHEMAS[_model_type],
                "parameters": PARAMETER_SCHEMAS[_model_type],
                "confidence_threshold": {"type": "number", "exclusiveMinimum": 0, "exclusiveMaximum": 1},
            },
            **({"required": ["data"]} if _model_type == "sentiment_analysis" else {}),
        },
    )(_make(_model_type))
