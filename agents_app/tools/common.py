"""Schema fragments and helpers shared by the tools."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from decimal import Decimal
from typing import Any

from django.utils import timezone

from agents_app.exceptions import ToolInputInvalidError
from commerce_app.models import Product
from commerce_app.selectors import PRODUCT_ROW_FIELDS

PERIOD_DAYS = {"day": 1, "week": 7, "month": 30, "quarter": 90, "year": 365}

PERIOD_SCHEMA: dict[str, Any] = {
    "period": {
        "type": "string",
        "enum": list(PERIOD_DAYS),
        "description": "trailing window ending now; ignored when start/end are given",
    },
    "start": {"type": "string", "format": "date", "pattern": r"^\d{4}-\d{2}-\d{2}$"},
    "end": {"type": "string", "format": "date", "pattern": r"^\d{4}-\d{2}-\d{2}$", "description": "exclusive"},
}
LIMIT = {"type": "integer", "minimum": 1, "maximum": 200}
NAME_FILTER = {"type": "string", "minLength": 1, "maxLength": 64}


def window(params: dict[str, Any], *, default_period: str = "month") -> tuple[datetime, datetime]:
    """``[start, end)`` from explicit dates (UTC midnights) or a trailing period."""
    if "start" in params or "end" in params:
        try:
            start_day = date.fromisoformat(params["start"]) if "start" in params else None
            end_day = date.fromisoformat(params["end"]) if "end" in params else None
        except ValueError as exc:
            raise ToolInputInvalidError(
                f"Invalid date: {exc}", details={"errors": [{"path": "/start", "message": str(exc)}]}
            ) from None
        end = datetime.combine(end_day, time.min, tzinfo=UTC) if end_day else timezone.now()
        start = datetime.combine(start_day, time.min, tzinfo=UTC) if start_day else end - timedelta(days=30)
        if start >= end:
            raise ToolInputInvalidError(
                "start must be before end.", details={"errors": [{"path": "/start", "message": "start >= end"}]}
            )
        return start, end
    end = timezone.now()
    return end - timedelta(days=PERIOD_DAYS[params.get("period", default_period)]), end


def product_row(product: Product) -> dict[str, Any]:
    return {name: getattr(product, name) for name in PRODUCT_ROW_FIELDS}


def pct(part: Decimal, whole: Decimal) -> Decimal | None:
    if not whole:
        return None
    return (part * 100 / whole).quantize(Decimal("0.1"))
