"""One WSGI app, three middleware stacks: probes, the JSON API, and browser pages.

Django runs every request through every layer of ``MIDDLEWARE``. Half of those layers
serve only what a browser renders (sessions for the admin, CSRF for its forms,
messages, static files, frame options for HTML) and cost a Python call and header
work on every probe and API request too: on ``/live`` the stack was more than half of
the request's CPU (PERF P3, bench/README.md). Here each kind of route gets its own
handler, built by Django's own ``load_middleware`` from its own list:

* ``/live``, ``/ready``, ``/health``: ``PROBE_MIDDLEWARE`` (request id, metrics,
  request figures, security headers). The views are public GETs that read no user,
  session or cookie.
* ``/api/v1/...``: ``API_MIDDLEWARE``: ``MIDDLEWARE`` without the page-only layers.
  Every route there is a DRF view (``tests/devskyy/core/test_stacks.py`` holds it):
  DRF marks its views CSRF-exempt and checks CSRF itself for session users, so the
  CSRF middleware never decided anything there; sessions and authentication stay for
  the dashboard's session users.
* everything else (admin, dashboard, static files, schema and docs pages): the full
  ``MIDDLEWARE``.

``MIDDLEWARE_BY_ROUTE=false`` sends every request through the full ``MIDDLEWARE``
(the benchmarks measure both; an operator's way back if a stack ever misbehaves).

What the skipped layers did to these responses, RequestContextMiddleware
(devskyy/core/middleware.py, in every stack) does: ``X-Frame-Options`` on JSON
responses and ``Content-Length``. A test sends the same requests through the routed
app and through the full stack and requires the same status, body and headers.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from typing import Any

from django.conf import settings
from django.core.handlers.wsgi import WSGIHandler
from django.http import HttpRequest
from django.urls import ResolverMatch, get_resolver

WSGIApp = Callable[[dict[str, Any], Callable[..., Any]], Iterable[bytes]]

API_PREFIX = "/api/v1/"


@contextmanager
def _middleware_setting(names: list[str]) -> Iterator[None]:
    # Django builds a handler's chain from settings.MIDDLEWARE; a handler is built once,
    # at start-up, before any request thread exists, so the swap is never seen by one.
    full = settings.MIDDLEWARE
    settings.MIDDLEWARE = names
    try:
        yield
    finally:
        settings.MIDDLEWARE = full


# Paths whose resolution a stack keeps; past this the whole table is dropped and
# refilled (paths carrying ids are unbounded, route templates are not).
RESOLVED_PATHS_MAX = 2048


class StackHandler(WSGIHandler):
    """Django's WSGI handler with its own middleware list.

    It also keeps what each path resolved to: Django walks the URL patterns, matching
    a regular expression per level, on every request (6% of an API request's CPU,
    PERF P1, bench/README.md). A resolution depends only on the path and the URL conf,
    so the result is kept per path for the current root resolver (a new URL conf, as
    ``clear_url_caches`` makes, starts an empty table). Each request gets its own copy
    of the match with its own ``kwargs`` (views may change theirs); a path that does
    not resolve raises ``Resolver404`` every time and is not kept. A request whose
    middleware set ``request.urlconf`` is resolved by Django as usual.
    """

    def __init__(self, middleware: list[str]) -> None:
        self.middleware = list(middleware)
        self._resolved: tuple[object, dict[str, ResolverMatch]] = (None, {})
        super().__init__()

    def resolve_request(self, request: HttpRequest) -> ResolverMatch:
        if "urlconf" in request.__dict__:  # set by a middleware (an instance field)
            return super().resolve_request(request)
        resolver = get_resolver()
        owner, table = self._resolved
        if owner is not resolver:
            table = {}
            self._resolved = (resolver, table)
        path = request.path_info
        match = table.get(path)
        if match is None:
            match = resolver.resolve(path)
            if len(table) >= RESOLVED_PATHS_MAX:
                table.clear()
            table[path] = match
        mine = object.__new__(ResolverMatch)
        mine.__dict__.update(match.__dict__)
        mine.kwargs = dict(match.kwargs)
        request.resolver_match = mine
        return mine

    def load_middleware(self, is_async: bool = False) -> None:
        with _middleware_setting(self.middleware):
            super().load_middleware(is_async)


class RoutedApplication:
    """The project's WSGI app: picks the stack by path, then it is plain Django."""

    def __init__(self, *, probe_paths: Iterable[str]) -> None:
        self.full = WSGIHandler()
        self.api: WSGIHandler = self.full
        self.probes: WSGIHandler = self.full
        if settings.MIDDLEWARE_BY_ROUTE:
            self.api = StackHandler(settings.API_MIDDLEWARE)
            self.probes = StackHandler(settings.PROBE_MIDDLEWARE)
        self.probe_paths = frozenset(probe_paths)

    def handler_for(self, path: str) -> WSGIHandler:
        if path in self.probe_paths:
            return self.probes
        if path.startswith(API_PREFIX):
            return self.api
        return self.full

    def __call__(self, environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        return self.handler_for(environ.get("PATH_INFO", "/"))(environ, start_response)


def probe_paths() -> list[str]:
    from django.urls import reverse

    return [reverse(f"health:{name}") for name in ("live", "ready", "health")]


def routed_application() -> RoutedApplication:
    """Django must be set up (``get_wsgi_application()`` or ``django.setup()``)."""
    return RoutedApplication(probe_paths=probe_paths())
