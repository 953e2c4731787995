"""Content negotiation: DRF's, with its most common case answered without parsing.

API clients send no ``Accept`` header, ``*/*`` or exactly the first renderer's media
type. For those DRF parses the header, orders media types by precedence and matches
each against every renderer (~5% of an agents-list request's CPU, PERF P1) to pick
the first renderer, which is what this returns directly. Anything else (a browser's
list, a ``?format=`` override, an unacceptable type and its 406) goes through DRF.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from rest_framework.negotiation import DefaultContentNegotiation
from rest_framework.renderers import BaseRenderer
from rest_framework.request import Request


class ContentNegotiation(DefaultContentNegotiation):
    def select_renderer(
        self, request: Request, renderers: Iterable[BaseRenderer], format_suffix: str | None = None
    ) -> Any:
        renderers = list(renderers)
        first = renderers[0] if renderers else None
        if first is not None and format_suffix is None:
            accept = request.META.get("HTTP_ACCEPT", "*/*")
            override = self.settings.URL_FORMAT_OVERRIDE
            if accept in ("*/*", first.media_type) and not (
                override and f"{override}=" in request.META.get("QUERY_STRING", "")
            ):
                return first, first.media_type
        return super().select_renderer(request, renderers, format_suffix)
