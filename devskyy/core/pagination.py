"""Pagination classes shared by the API."""

from __future__ import annotations

from typing import Any

from rest_framework import pagination
from rest_framework.exceptions import NotFound, ValidationError


class CursorPagination(pagination.CursorPagination):
    """DRF's cursor pagination, with a malformed ``cursor`` answered as the bad input it
    is (400 ``validation_error`` naming the parameter) instead of DRF's 404 "Invalid
    cursor", which the schema did not document and which reads as a missing resource
    (found by fuzzing, tests/reliability/test_fuzzing.py)."""

    def decode_cursor(self, request: Any) -> Any:
        try:
            return super().decode_cursor(request)
        except NotFound as exc:
            raise ValidationError({self.cursor_query_param: [str(exc.detail)]}) from exc
