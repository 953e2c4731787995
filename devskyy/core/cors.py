"""django-cors-headers' middleware, with a shortcut for requests that carry no Origin.

Only a browser's cross-origin request carries ``Origin``; API clients with keys or
tokens (the integrations, the benchmarks' load, curl) do not. For those, corsheaders
decides nothing: it answers no preflight (it needs ``Access-Control-Request-Method``,
sent only on OPTIONS) and adds no ``Access-Control-*`` header; what it still adds is
``Vary: Origin`` on routes where CORS is enabled. Getting there it builds the request's
header dict and runs both of its hooks: 4% of an API request's CPU (PERF P1,
bench/README.md). The shortcut adds the same ``Vary`` and nothing else; every request
with an Origin, and every OPTIONS request, goes through corsheaders unchanged
(``tests/devskyy/core/test_cors.py`` compares the two on a matrix of requests).
"""

from __future__ import annotations

from corsheaders.middleware import CorsMiddleware as LibraryCorsMiddleware
from django.http import HttpRequest
from django.http.response import HttpResponseBase
from django.utils.cache import patch_vary_headers


class CorsMiddleware(LibraryCorsMiddleware):
    def __call__(self, request: HttpRequest) -> HttpResponseBase:
        if self.async_mode or request.method == "OPTIONS" or "HTTP_ORIGIN" in request.META:
            return super().__call__(request)  # type: ignore[return-value]
        enabled = self.is_enabled(request)
        request._cors_enabled = enabled  # type: ignore[attr-defined]  # as corsheaders records it
        response = self.get_response(request)
        if enabled:
            patch_vary_headers(response, ("origin",))  # type: ignore[arg-type]
        return response  # type: ignore[return-value]
