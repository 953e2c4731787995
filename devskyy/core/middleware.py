"""Request context: request id, timing, security headers, request log, error envelope."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable

from asgiref.sync import iscoroutinefunction
from axes.helpers import get_lockout_response
from axes.middleware import AxesMiddleware as _AxesMiddleware
from django.conf import settings
from django.http import HttpRequest, HttpResponse
from django.urls import NoReverseMatch

from devskyy.core.context import new_request_id, request_id_var
from devskyy.core.errors import envelope_response, is_api_path
from devskyy.core.logging import log_often

logger = logging.getLogger("devskyy.request")

_API_HEADERS = {
    "Content-Security-Policy": "default-src 'none'; frame-ancestors 'none'",
    "Cache-Control": "no-store",
}
_COMMON_HEADERS = {
    "Permissions-Policy": "camera=(), microphone=(), geolocation=(), payment=()",
}


class RequestContextMiddleware:
    """Outermost middleware: everything inside runs with the request id set.

    - ``X-Request-ID`` is echoed (if well formed) or generated, and set on the response.
    - ``X-Response-Time`` is the time spent inside Django, in milliseconds.
    - An error response on an API path that is not JSON is replaced by the envelope,
      so clients never have to parse HTML error pages.
    - One log line per request, carrying the request id. A probe (/live, /ready,
      /health) that succeeds logs at DEBUG: load balancers and Render poll them every
      few seconds, the lines buried the requests people read, and writing them was a
      sixth of a /live request's CPU (PERF P3, bench/README.md). Metrics and request
      figures still count every probe; a failing probe (>= 400) logs as any request.
    """

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        from devskyy.core.stacks import probe_paths

        self.get_response = get_response
        try:
            self.probe_paths = frozenset(probe_paths())
        except NoReverseMatch:  # a URL conf without the probes (tests' own)
            self.probe_paths = frozenset()

    def __call__(self, request: HttpRequest) -> HttpResponse:
        # META, not request.headers: that builds a dict of every header on first use.
        request_id = new_request_id(request.META.get("HTTP_X_REQUEST_ID"))
        token = request_id_var.set(request_id)
        request.request_id = request_id  # type: ignore[attr-defined]
        started = time.perf_counter()
        try:
            response = self.get_response(request)
            api = is_api_path(request.path)
            if (
                api
                and response.status_code >= 400
                and not response.get("Content-Type", "").startswith("application/json")
            ):
                replacement = envelope_response(response.status_code)
                for header, value in response.items():  # keep CORS, Allow, Retry-After, ...
                    if header.lower() not in ("content-type", "content-length"):
                        replacement[header] = value
                response = replacement
            elapsed_ms = (time.perf_counter() - started) * 1000
            response["X-Request-ID"] = request_id
            response["X-Response-Time"] = f"{elapsed_ms:.2f}ms"
            for name, value in _COMMON_HEADERS.items():
                response.setdefault(name, value)
            if api:
                for name, value in _API_HEADERS.items():
                    response.setdefault(name, value)
                # What CommonMiddleware and XFrameOptionsMiddleware add on the full stack;
                # API and probe requests run without them (devskyy/core/stacks.py).
                response.setdefault("X-Frame-Options", settings.X_FRAME_OPTIONS)
            if not response.streaming and not response.has_header("Content-Length"):
                response["Content-Length"] = str(len(response.content))
            status = response.status_code
            if status >= 500:
                level = logging.WARNING
            elif status < 400 and request.path in self.probe_paths:
                level = logging.DEBUG
            else:
                level = logging.INFO
            if logger.isEnabledFor(level):
                log_often(
                    logger,
                    level,
                    "%s %s %s %.1fms",
                    (request.method, request.path, status, elapsed_ms),
                    {"status": status, "duration_ms": round(elapsed_ms, 2)},
                )
            return response
        finally:
            request_id_var.reset(token)


class AxesMiddleware(_AxesMiddleware):  # type: ignore[misc]  # axes ships no type hints
    """django-axes' middleware, with its sync-or-async choice made once.

    The library asks ``iscoroutinefunction(self)`` on every call (inspect's checks
    over the instance: six raised and caught AttributeErrors, 1.5% of an API
    request's CPU, PERF P1); the answer is fixed when the chain is built. The rest is
    the library's ``__call__``, which its docstring invites subclasses to replace.
    """

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        super().__init__(get_response)
        self._async = iscoroutinefunction(self)

    def __call__(self, request: HttpRequest) -> HttpResponse:
        if self._async:
            return self.__acall__(request)  # type: ignore[no-any-return]
        response: HttpResponse = self.get_response(request)
        if settings.AXES_ENABLED and getattr(request, "axes_locked_out", None):
            credentials = getattr(request, "axes_credentials", None)
            response = get_lockout_response(request, response, credentials)
        return response
