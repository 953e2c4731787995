"""Every route of the URL conf, with its pattern (the API directory, route checks in tests)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from django.urls import URLPattern, URLResolver, get_resolver


def url_routes() -> Iterator[tuple[str, URLPattern]]:
    """``("/" + the route as written in the URL conf, its pattern)`` for every view."""

    def walk(patterns: list[Any], prefix: str) -> Iterator[tuple[str, URLPattern]]:
        for entry in patterns:
            if isinstance(entry, URLResolver):
                yield from walk(entry.url_patterns, prefix + str(entry.pattern))
            elif isinstance(entry, URLPattern):
                yield "/" + prefix + str(entry.pattern), entry

    yield from walk(get_resolver().url_patterns, "")
