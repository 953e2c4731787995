"""The API's JSON parser: DRF's, with the limits a body must respect to reach a view.

Found by the reliability tests (tests/reliability/test_malformed_input.py); before it,
a huge body was parsed whole, and the other two reached the interpreter or the
database and answered 500:

* a body over DATA_UPLOAD_MAX_MEMORY_SIZE is refused with 413 ``payload_too_large``
  (DRF reads the request stream itself, so Django's own check on ``request.body``
  never ran for API bodies: a 6 MB body was parsed and validated);
* nesting too deep for the decoder (``[[[[...]]]]`` 10,000 levels) raised
  RecursionError: now 400 ``parse_error``;
* NUL characters and unpaired surrogates (``"\\u0000"``, ``"\\ud800"``) in any string
  or key: now 400 ``validation_error`` naming where, as DRF's CharFields do. Valid
  JSON, but PostgreSQL can store neither (text refuses NUL, jsonb both), so a tool's
  parameters or a JSON field carrying one failed at the INSERT: CharFields refused
  them, values inside JSON fields were not checked.
"""

from __future__ import annotations

import io
import re
from collections.abc import Mapping
from typing import Any

from django.conf import settings
from rest_framework import parsers
from rest_framework.exceptions import APIException, ParseError, ValidationError

_UNSTORABLE = re.compile("[\x00\ud800-\udfff]")
_UNSTORABLE_MESSAGE = "NUL characters and unpaired surrogates are not allowed."


class PayloadTooLarge(APIException):
    status_code = 413
    default_detail = "Request body is too large."
    default_code = "payload_too_large"


def _first_unstorable(data: Any) -> str | None:
    """Where the first string (value or key) PostgreSQL cannot store is, as a dotted
    path ("" for the document itself); walked without recursion. None: all storable."""
    stack: list[tuple[str, Any]] = [("", data)]
    while stack:
        path, item = stack.pop()
        if isinstance(item, str):
            if _UNSTORABLE.search(item):
                return path
        elif isinstance(item, dict):
            for key, value in item.items():
                where = f"{path}.{key}" if path else str(key)
                if isinstance(key, str) and _UNSTORABLE.search(key):
                    return where.encode("unicode_escape").decode("ascii")
                stack.append((where, value))
        elif isinstance(item, list):
            stack.extend((f"{path}.{index}" if path else str(index), value) for index, value in enumerate(item))
    return None


class JSONParser(parsers.JSONParser):
    def parse(self, stream: Any, media_type: str | None = None, parser_context: Mapping[str, Any] | None = None) -> Any:
        limit = settings.DATA_UPLOAD_MAX_MEMORY_SIZE
        raw = stream.read(limit + 1)
        if len(raw) > limit:
            raise PayloadTooLarge(f"Request body larger than {limit} bytes.")
        try:
            data = super().parse(io.BytesIO(raw), media_type, parser_context)
        except RecursionError:
            raise ParseError("JSON parse error - nested too deeply.") from None
        where = _first_unstorable(data)
        if where is not None:
            raise ValidationError({where or "non_field_errors": [_UNSTORABLE_MESSAGE]})
        return data
