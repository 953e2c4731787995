"""Small rendering helpers shared by the admin classes (read-only display only)."""

from __future__ import annotations

import json
from typing import Any

from django.http import HttpRequest
from django.utils.html import format_html
from django.utils.safestring import SafeString


def pretty_json(value: Any) -> SafeString:
    """``value`` as indented JSON in a <pre>, escaped; "-" for None."""
    if value is None:
        return format_html("{}", "-")
    text = json.dumps(value, indent=2, sort_keys=True, ensure_ascii=False, default=str)
    return format_html('<pre style="white-space:pre-wrap;margin:0;max-height:40em;overflow:auto">{}</pre>', text)


class ReadOnlyAdminMixin:
    """An admin page to browse and search, never to add, change or delete: records of
    what happened (audit rows, spend, sent messages, logouts)."""

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False
