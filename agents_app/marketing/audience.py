"""Campaign audiences: a validated filter resolved against the shop's real customers.

The filter (JSON, every key optional, unknown keys refused):

| key | matches customers who |
|---|---|
| ``segment`` | are in one of these RFM segments (``customer_segmentation``'s k-means on the shop's revenue orders, 4 segments); customers without orders have no segment |
| ``min_orders`` / ``min_total_spent`` | have at least this many revenue orders / this revenue in total |
| ``ordered_within_days`` | placed a revenue order in the last N days |
| ``not_ordered_within_days`` | placed none in the last N days (never-ordered included) |
| ``purchased_product_ids`` / ``purchased_categories`` | bought any of these products / any product of these categories |
| ``countries`` | live in one of these ISO 3166-1 alpha-2 countries |
| ``accepts_marketing`` | gave marketing consent (default ``true``); ``false`` drops the consent condition from the count, but sending still skips customers without consent |

Revenue orders are those in processing or completed state, as for every sales figure.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

from django.db.models import QuerySet
from django.utils import timezone
from jsonschema import Draft202012Validator

from agents_app.capabilities.ml import SEGMENT_NAMES, customer_segments_by_id
from agents_app.marketing.exceptions import InvalidAudienceError
from commerce_app import selectors as shop
from commerce_app.models import Customer

_DAYS = {"type": "integer", "minimum": 1, "maximum": 3650}
_MONEY_PATTERN = r"^\d{1,10}(\.\d{1,2})?$"

AUDIENCE_SCHEMA: dict[str, Any] = {
    "type": "object",
    "additionalProperties": False,
    "properties": {
        "segment": {
            "description": "RFM segment name(s) from customer_segmentation",
            "oneOf": [
                {"type": "string", "enum": list(SEGMENT_NAMES)},
                {
                    "type": "array",
                    "items": {"type": "string", "enum": list(SEGMENT_NAMES)},
                    "minItems": 1,
                    "uniqueItems": True,
                },
            ],
        },
        "min_orders": {"type": "integer", "minimum": 0, "maximum": 100_000},
        "min_total_spent": {
            "description": "revenue in the shop's currency, a number or a decimal string",
            "oneOf": [
                {"type": "number", "minimum": 0, "maximum": 1e10},
                {"type": "string", "pattern": _MONEY_PATTERN},
            ],
        },
        "ordered_within_days": _DAYS,
        "not_ordered_within_days": _DAYS,
        "purchased_product_ids": {
            "type": "array",
            "items": {"type": "integer", "minimum": 1, "maximum": 2**63 - 1},
            "minItems": 1,
            "maxItems": 500,
            "uniqueItems": True,
        },
        "purchased_categories": {
            "type": "array",
            "items": {"type": "string", "minLength": 1, "maxLength": 64},
            "minItems": 1,
            "maxItems": 50,
            "uniqueItems": True,
        },
        "countries": {
            "type": "array",
            "items": {"type": "string", "pattern": "^[A-Za-z]{2}$"},
            "minItems": 1,
            "maxItems": 250,
            "uniqueItems": True,
        },
        "accepts_marketing": {"type": "boolean"},
    },
}
_VALIDATOR = Draft202012Validator(AUDIENCE_SCHEMA)


def validate_audience(value: Any) -> dict[str, Any]:
    """The filter with defaults applied; raises InvalidAudienceError listing every problem."""
    if value is None:
        value = {}
    errors = sorted(_VALIDATOR.iter_errors(value), key=lambda e: (list(e.absolute_path), e.message))
    if errors:
        details = [
            {"path": "/target_audience" + "".join(f"/{p}" for p in e.absolute_path), "message": e.message}
            for e in errors
        ]
        raise InvalidAudienceError(f"target_audience is invalid: {details[0]['message']}", details={"errors": details})
    if (
        "ordered_within_days" in value
        and "not_ordered_within_days" in value
        and value["not_ordered_within_days"] >= value["ordered_within_days"]
    ):
        raise InvalidAudienceError(
            "ordered_within_days and not_ordered_within_days together match nobody unless "
            "not_ordered_within_days is the smaller window (e.g. ordered within 90 days, not within 30).",
            details={"errors": [{"path": "/target_audience/not_ordered_within_days", "message": "contradiction"}]},
        )
    return {"accepts_marketing": True, **value}


@dataclass(frozen=True)
class ResolvedAudience:
    queryset: QuerySet[Customer]
    resolved_at: datetime


def resolve(audience: dict[str, Any], *, now: datetime | None = None) -> ResolvedAudience:
    """The customers ``audience`` (already validated) matches now, as a queryset by id.

    A ``segment`` condition runs the RFM segmentation over the shop's orders first
    (InsufficientDataError, 422, when the shop has too few customers with orders)."""
    now = now or timezone.now()
    customer_ids: list[int] | None = None
    if "segment" in audience:
        wanted = {audience["segment"]} if isinstance(audience["segment"], str) else set(audience["segment"])
        segments = customer_segments_by_id(now=now)
        customer_ids = sorted(cid for cid, name in segments.items() if name in wanted)
    spent = audience.get("min_total_spent")
    queryset = shop.customer_audience(
        min_orders=audience.get("min_orders"),
        min_total_spent=Decimal(str(spent)) if spent is not None else None,
        ordered_since=now - timedelta(days=audience["ordered_within_days"])
        if "ordered_within_days" in audience
        else None,
        not_ordered_since=now - timedelta(days=audience["not_ordered_within_days"])
        if "not_ordered_within_days" in audience
        else None,
        purchased_product_ids=audience.get("purchased_product_ids", ()),
        purchased_categories=audience.get("purchased_categories", ()),
        countries=audience.get("countries", ()),
        accepts_marketing=True if audience.get("accepts_marketing", True) else None,
        customer_ids=customer_ids,
    )
    return ResolvedAudience(queryset=queryset, resolved_at=now)


def preview(audience: dict[str, Any], *, sample: int = 10) -> dict[str, Any]:
    """Size and a sample of the matching customers (validates first)."""
    filters = validate_audience(audience)
    resolved = resolve(filters)
    rows = list(
        resolved.queryset.values("id", "email", "first_name", "last_name", "country", "accepts_marketing")[:sample]
    )
    return {
        "size": resolved.queryset.count(),
        "resolved_at": resolved.resolved_at,
        "filter": filters,
        "sample": [
            {
                "customer_id": row["id"],
                "email": row["email"],
                "name": f"{row['first_name']} {row['last_name']}".strip(),
                "country": row["country"],
                "accepts_marketing": row["accepts_marketing"],
            }
            for row in rows
        ],
    }
