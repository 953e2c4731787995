"""ML predictions computed from the shop's data (default) or from data given in the request.

Five models, each small enough to explain in one line and computed here with numpy:

* ``demand_forecasting``: Holt's linear exponential smoothing per SKU on weekly units
  (alpha/beta chosen by one-step-ahead squared error on a grid); prediction intervals
  from the residual spread with Holt's h-step variance factor.
* ``customer_segmentation``: recency/frequency/monetary features (log1p, standardised),
  k-means with k-means++ starts (fixed seed: same data, same segments), each segment
  described from its members' medians.
* ``dynamic_pricing``: on the shop's data, the commerce pricing service
  (commerce_app.pricing: elasticity shrunk towards the category's and a prior, the same
  model as the pricing endpoint). On observations given in the request (no catalog to
  shrink towards): constant-elasticity demand, ``ln(units) = a + e*ln(price)``
  fitted per product by least squares; a recommendation is made only when the
  elasticity is significant at ``confidence_threshold``; the profit-maximising price
  ``cost * e / (1 + e)`` is clamped to margin and discount bounds.
* ``trend_prediction``: weekly units per category or collection; velocity (units/week)
  and acceleration (change of velocity per week, least-squares slope) with its
  confidence interval; a direction is claimed only when the interval excludes zero.
* ``sentiment_analysis``: VADER's lexicon and rules (shipped inside the vaderSentiment
  package; nothing is downloaded).

Every answer names the model, the data source and how much data it used. Too little
data raises ``InsufficientDataError`` (422) when nothing could be predicted; a series
that is too short among others that are not is reported as ``insufficient_data``.
Confidence intervals use the normal approximation (no scipy in the install).

This module holds the contract (model types, schemas, errors, ``predict``); the models
themselves are in ``ml_models`` (numpy), imported on the first prediction.
"""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

from django.utils import timezone
from jsonschema import Draft202012Validator

from devskyy.core.errors import DomainError

MODEL_TYPES = (
    "demand_forecasting",
    "customer_segmentation",
    "dynamic_pricing",
    "trend_prediction",
    "sentiment_analysis",
)
DEFAULT_CONFIDENCE = 0.8
CENT = Decimal("0.01")
MIN_DEMAND_WEEKS = 8
MIN_DEMAND_SALE_WEEKS = 3
MIN_TREND_WEEKS = 6
MIN_PRICE_POINTS = 2
MIN_PRICE_OBSERVATIONS = 6


# Customer segments: named from the cluster's medians against everyone's (ml_models).
_SEGMENT_NAMES = {
    (True, True): "champions",
    (False, True): "at_risk_loyal",
    (True, False): "new_or_promising",
    (False, False): "hibernating",
}
# Every name a segment can get: the (recent, frequent) pair, optionally "_high_value".
SEGMENT_NAMES: tuple[str, ...] = tuple(
    sorted({base + suffix for base in _SEGMENT_NAMES.values() for suffix in ("", "_high_value")})
)
DEFAULT_SEGMENTS = 4


class InsufficientDataError(DomainError):
    """The data are too few (or too uniform) for the model to say anything."""

    status_code = 422
    code = "insufficient_data"


class InvalidPredictionInputError(DomainError):
    code = "invalid_prediction_input"


# --- input schemas (shared with the tools) ------------------------------------------------
def _obj(properties: dict[str, Any], required: list[str] | None = None) -> dict[str, Any]:
    schema: dict[str, Any] = {"type": "object", "additionalProperties": False, "properties": properties}
    if required:
        schema["required"] = required
    return schema


_SKU = {"type": "string", "minLength": 1, "maxLength": 64}
_UNITS_SERIES = {"type": "array", "minItems": 1, "maxItems": 520, "items": {"type": "number", "minimum": 0}}
_SKUS = {"type": "array", "minItems": 1, "maxItems": 200, "items": _SKU, "uniqueItems": True}

DATA_SCHEMAS: dict[str, dict[str, Any]] = {
    "demand_forecasting": _obj(
        {
            "series": {
                "type": "array",
                "minItems": 1,
                "maxItems": 500,
                "items": _obj({"sku": _SKU, "history": _UNITS_SERIES}, ["sku", "history"]),
            }
        },
        ["series"],
    ),
    "customer_segmentation": _obj(
        {
            "customers": {
                "type": "array",
                "minItems": 1,
                "maxItems": 20000,
                "items": _obj(
                    {
                        "id": {"type": "string", "minLength": 1, "maxLength": 254},
                        "recency_days": {"type": "number", "minimum": 0},
                        "frequency": {"type": "integer", "minimum": 1},
                        "monetary": {"type": "number", "minimum": 0},
                    },
                    ["id", "recency_days", "frequency", "monetary"],
                ),
            }
        },
        ["customers"],
    ),
    "dynamic_pricing": _obj(
        {
            "products": {
                "type": "array",
                "minItems": 1,
                "maxItems": 500,
                "items": _obj(
                    {
                        "sku": _SKU,
                        "price": {"type": "number", "exclusiveMinimum": 0},
                        "cost": {"type": "number", "minimum": 0},
                        "observations": {
                            "type": "array",
                            "maxItems": 1000,
                            "items": _obj(
                                {
                                    "price": {"type": "number", "exclusiveMinimum": 0},
                                    "units": {"type": "number", "minimum": 0},
                                },
                                ["price", "units"],
                            ),
                        },
                    },
                    ["sku", "price", "cost", "observations"],
                ),
            }
        },
        ["products"],
    ),
    "trend_prediction": _obj(
        {
            "series": {
                "type": "array",
                "minItems": 1,
                "maxItems": 200,
                "items": _obj(
                    {"group": {"type": "string", "minLength": 1, "maxLength": 64}, "units": _UNITS_SERIES},
                    ["group", "units"],
                ),
            }
        },
        ["series"],
    ),
    "sentiment_analysis": _obj(
        {
            "texts": {
                "type": "array",
                "minItems": 1,
                "maxItems": 1000,
                "items": {
                    "oneOf": [
                        {"type": "string", "minLength": 1, "maxLength": 5000},
                        _obj(
                            {
                                "id": {"type": "string", "maxLength": 100},
                                "text": {"type": "string", "minLength": 1, "maxLength": 5000},
                            },
                            ["text"],
                        ),
                    ]
                },
            }
        },
        ["texts"],
    ),
}

PARAMETER_SCHEMAS: dict[str, dict[str, Any]] = {
    "demand_forecasting": _obj(
        {
            "skus": _SKUS,
            "history_weeks": {"type": "integer", "minimum": MIN_DEMAND_WEEKS, "maximum": 104},
            "horizon_weeks": {"type": "integer", "minimum": 1, "maximum": 26},
            "limit": {"type": "integer", "minimum": 1, "maximum": 200},
        }
    ),
    "customer_segmentation": _obj({"segments": {"type": "integer", "minimum": 2, "maximum": 8}}),
    "dynamic_pricing": _obj(
        {
            "skus": _SKUS,
            "history_weeks": {"type": "integer", "minimum": 4, "maximum": 104},
            "min_margin": {"type": "number", "minimum": 0, "maximum": 0.95},
            "max_discount": {"type": "number", "minimum": 0, "maximum": 0.9},
            "max_increase": {"type": "number", "minimum": 0, "maximum": 1},
            "limit": {"type": "integer", "minimum": 1, "maximum": 200},
        }
    ),
    "trend_prediction": _obj(
        {
            "group_by": {"type": "string", "enum": ["category", "collection"]},
            "weeks": {"type": "integer", "minimum": MIN_TREND_WEEKS, "maximum": 104},
            "horizon_weeks": {"type": "integer", "minimum": 1, "maximum": 12},
        }
    ),
    "sentiment_analysis": _obj({}),
}


def _check(schema: dict[str, Any], value: Any, where: str) -> None:
    errors = sorted(Draft202012Validator(schema).iter_errors(value), key=lambda e: list(e.absolute_path))
    if errors:
        details = [
            {"path": f"/{where}/" + "/".join(str(p) for p in error.absolute_path), "message": error.message}
            for error in errors[:20]
        ]
        raise InvalidPredictionInputError(f"Invalid {where}: {details[0]['message']}", details={"errors": details})


# --- entry point ---------------------------------------------------------------------------
def predict(
    *,
    model_type: str,
    data: dict[str, Any] | None = None,
    parameters: dict[str, Any] | None = None,
    confidence_threshold: float = DEFAULT_CONFIDENCE,
    now: datetime | None = None,
) -> dict[str, Any]:
    """Run ``model_type`` on ``data`` (or the shop's data when ``data`` is None)."""
    if model_type not in MODEL_TYPES:
        raise InvalidPredictionInputError(f"Unknown model_type {model_type!r}.", details={"allowed": list(MODEL_TYPES)})
    if not 0 < confidence_threshold < 1:
        raise InvalidPredictionInputError("confidence_threshold must be between 0 and 1 (exclusive).")
    parameters = parameters or {}
    _check(PARAMETER_SCHEMAS[model_type], parameters, "parameters")
    if data is not None:
        _check(DATA_SCHEMAS[model_type], data, "data")
    now = now or timezone.now()
    # numpy (~20 MB per process) is imported with the models, on the first prediction,
    # not when the URL conf or the tool registry loads (PERF P6, bench/README.md).
    from agents_app.capabilities.ml_models import RUNNERS

    runner = RUNNERS[model_type]
    body = runner(data, parameters, confidence_threshold, now)
    return {
        "model_type": model_type,
        "data_source": "request" if data is not None else "shop",
        "confidence_threshold": confidence_threshold,
        "as_of": now.astimezone(UTC).isoformat(),
        **body,
    }


def customer_segments_by_id(*, now: datetime, k: int = DEFAULT_SEGMENTS) -> dict[int, str]:
    """Segment name per customer id (ml_models.customer_segments_by_id; numpy loads on first use)."""
    from agents_app.capabilities.ml_models import customer_segments_by_id as segments

    return segments(now=now, k=k)
