"""Probes and the JSON API run on shorter middleware stacks than pages
(devskyy/core/stacks.py, PERF P1/P3): they must answer exactly as the full stack does.

Each request goes through the project's WSGI app (``RoutedApplication``, what
gunicorn serves) and through Django's handler with every middleware; status, body and
headers must match (the request id is fixed, so error bodies compare too)."""

from __future__ import annotations

import io
import sys
from typing import Any

import pytest
from django.conf import settings
from django.core.handlers.wsgi import WSGIHandler
from django.core.management import call_command
from django.core.signals import request_finished, request_started
from django.db import close_old_connections
from django.test import Client
from rest_framework.views import APIView

from devskyy.core.roles import Role
from devskyy.core.stacks import RoutedApplication, probe_paths
from devskyy.core.url_routes import url_routes
from tests.support.auth import access_token, make_user

pytestmark = pytest.mark.django_db

ORIGIN = "https://app.devskyy.app"
# Differ between any two answers: the time spent, and what is left of the rate limit.
VOLATILE = {"x-response-time", "x-ratelimit-remaining", "x-ratelimit-reset"}


def _call(app: Any, method: str, path: str, headers: dict[str, str], body: bytes = b"") -> tuple[str, dict, bytes]:
    environ: dict[str, Any] = {
        "REQUEST_METHOD": method,
        "PATH_INFO": path,
        "QUERY_STRING": "",
        "SERVER_NAME": "testserver",
        "SERVER_PORT": "80",
        "SERVER_PROTOCOL": "HTTP/1.1",
        "REMOTE_ADDR": "127.0.0.1",
        "HTTP_HOST": "testserver",
        "HTTP_X_REQUEST_ID": "stack-comparison-1",
        "CONTENT_LENGTH": str(len(body)),
        "CONTENT_TYPE": "application/json",
        "wsgi.version": (1, 0),
        "wsgi.url_scheme": "http",
        "wsgi.input": io.BytesIO(body),
        "wsgi.errors": sys.stderr,
        "wsgi.multithread": True,
        "wsgi.multiprocess": False,
        "wsgi.run_once": False,
    }
    for name, value in headers.items():
        environ["HTTP_" + name.upper().replace("-", "_")] = value
    started: list[Any] = []

    def start_response(status: str, response_headers: list[tuple[str, str]], exc_info: Any = None) -> None:
        started[:] = [status, response_headers]

    # As Django's test client does: the test's transaction keeps its connection.
    request_started.disconnect(close_old_connections)
    request_finished.disconnect(close_old_connections)
    try:
        iterable = app(environ, start_response)
        content = b"".join(iterable)
        iterable.close()
    finally:
        request_started.connect(close_old_connections)
        request_finished.connect(close_old_connections)
    status, response_headers = started
    return status, {k.lower(): v for k, v in response_headers if k.lower() not in VOLATILE}, content


@pytest.fixture
def apps() -> tuple[RoutedApplication, WSGIHandler]:
    return RoutedApplication(probe_paths=probe_paths()), WSGIHandler()


def _same_answer(apps: tuple[RoutedApplication, WSGIHandler], method: str, path: str, **headers: str) -> str:
    routed, full = apps
    body = b'{"reason": "stack comparison"}' if method == "POST" else b""
    answer = _call(routed, method, path, headers, body)
    expected = _call(full, method, path, headers, body)
    assert answer == expected, f"{method} {path}"
    return answer[0]


def test_each_kind_of_route_gets_its_own_stack(apps: tuple[RoutedApplication, WSGIHandler]) -> None:
    routed, _ = apps
    assert routed.handler_for("/live") is routed.probes
    assert routed.handler_for("/health") is routed.probes
    assert routed.handler_for("/api/v1/agents") is routed.api
    for page in ("/admin/", "/dashboard/", "/static/x.css", "/api/schema/", "/api/docs/", "/", "/metrics"):
        assert routed.handler_for(page) is routed.full
    assert len(settings.PROBE_MIDDLEWARE) < len(settings.API_MIDDLEWARE) < len(settings.MIDDLEWARE)


def test_middleware_by_route_false_sends_everything_through_every_layer(settings: object) -> None:
    settings.MIDDLEWARE_BY_ROUTE = False  # type: ignore[attr-defined]
    routed = RoutedApplication(probe_paths=probe_paths())
    assert routed.handler_for("/live") is routed.full
    assert routed.handler_for("/api/v1/agents") is routed.full


def test_probes_answer_as_through_every_middleware(apps: tuple[RoutedApplication, WSGIHandler]) -> None:
    assert _same_answer(apps, "GET", "/live").startswith("200")
    assert _same_answer(apps, "GET", "/live", origin=ORIGIN).startswith("200")  # CORS headers
    assert _same_answer(apps, "GET", "/ready").startswith("200")


def test_a_write_to_a_probe_is_a_405_not_a_csrf_failure(apps: tuple[RoutedApplication, WSGIHandler]) -> None:
    """The one intended difference: without the CSRF middleware a probe answers what is
    wrong with the request (the method) instead of a CSRF refusal."""
    routed, full = apps
    status, headers, _ = _call(routed, "DELETE", "/live", {})
    assert status.startswith("405")
    assert headers["allow"] == "GET"
    assert _call(full, "DELETE", "/live", {})[0].startswith("403")


def test_api_answers_as_through_every_middleware(apps: tuple[RoutedApplication, WSGIHandler]) -> None:
    call_command("seed_agents", stdout=io.StringIO())
    token = access_token(make_user(Role.OPERATOR))
    assert _same_answer(apps, "GET", "/api/v1/agents", authorization=f"Bearer {token}").startswith("200")
    assert _same_answer(apps, "GET", "/api/v1/agents").startswith("401")
    assert _same_answer(apps, "GET", "/api/v1/no-such-route", origin=ORIGIN).startswith("404")
    preflight = {"origin": ORIGIN, "access-control-request-method": "POST"}
    assert _same_answer(apps, "OPTIONS", "/api/v1/tasks", **preflight).startswith("200")
    assert _same_answer(apps, "POST", "/api/v1/tasks", authorization="Bearer not-a-token").startswith("401")


def test_session_users_still_need_a_csrf_token_on_the_api(apps: tuple[RoutedApplication, WSGIHandler]) -> None:
    """The CSRF middleware is not on the API stack: DRF checks session users itself."""
    client = Client()
    client.force_login(make_user(Role.ADMIN))
    session = client.cookies[settings.SESSION_COOKIE_NAME].value
    cookie = f"{settings.SESSION_COOKIE_NAME}={session}"
    assert _same_answer(apps, "GET", "/api/v1/agents", cookie=cookie).startswith("200")
    refused = _same_answer(apps, "POST", "/api/v1/auth/api-keys", cookie=cookie)
    assert refused.startswith("403")
    secret = "a" * 32
    with_token = {"cookie": f"{cookie}; {settings.CSRF_COOKIE_NAME}={secret}", "x-csrftoken": secret}
    # Past the CSRF check: the body is not a valid key request (400), nothing else differs.
    assert _same_answer(apps, "POST", "/api/v1/auth/api-keys", **with_token).startswith("400")


def test_every_api_route_is_a_drf_view() -> None:
    """Why the API stack may leave out Django's CSRF middleware: DRF marks its views
    CSRF-exempt and enforces CSRF for session users itself. A plain Django view here
    would lose its CSRF protection, so it fails this test until it is thought about."""
    plain = [
        route
        for route, pattern in url_routes()
        if route.startswith("/api/v1/") and not _is_drf_view(getattr(pattern.callback, "cls", None))
    ]
    assert plain == []


def _is_drf_view(view_class: Any) -> bool:
    return isinstance(view_class, type) and issubclass(view_class, APIView)


# --- the resolution table of a stack ---------------------------------------------------
def _request(path: str) -> Any:
    from django.test import RequestFactory

    return RequestFactory().get(path)


def test_a_stack_resolves_a_path_once_and_gives_each_request_its_own_match() -> None:
    from django.urls import resolve

    from devskyy.core.stacks import StackHandler

    handler = StackHandler(settings.API_MIDDLEWARE)
    path = "/api/v1/tasks/3f0e9a52-8f1e-4c8e-9d7e-2a4b6c8d0e1f"
    first = handler.resolve_request(request := _request(path))
    assert request.resolver_match is first
    first.kwargs["changed_by_a_view"] = True
    second = handler.resolve_request(_request(path))
    assert second is not first
    expected = resolve(path)
    assert (second.func, second.args, second.kwargs, second.route, second.view_name) == (
        expected.func,
        expected.args,
        expected.kwargs,
        expected.route,
        expected.view_name,
    )
    assert "changed_by_a_view" not in second.kwargs
    assert len(handler._resolved[1]) == 1


def test_a_path_that_does_not_resolve_is_not_kept() -> None:
    from django.urls import Resolver404

    from devskyy.core.stacks import StackHandler

    handler = StackHandler(settings.API_MIDDLEWARE)
    for _ in range(2):
        with pytest.raises(Resolver404):
            handler.resolve_request(_request("/api/v1/no-such-route"))
    assert handler._resolved[1] == {}


def test_a_new_url_conf_starts_a_new_table(settings: Any) -> None:
    from django.urls import Resolver404

    from devskyy.core.stacks import RESOLVED_PATHS_MAX, StackHandler

    handler = StackHandler(settings.API_MIDDLEWARE)
    assert handler.resolve_request(_request("/live")).url_name == "live"
    with pytest.raises(Resolver404):
        handler.resolve_request(_request("/api/v1/boom"))
    settings.ROOT_URLCONF = "tests.devskyy.boom_urls"  # Django clears its URL caches
    assert handler.resolve_request(_request("/api/v1/boom")).func.__name__ == "boom"
    assert list(handler._resolved[1]) == ["/api/v1/boom"]
    # The table stays bounded: full, it is emptied and refilled.
    handler._resolved[1].update({f"/x/{n}": handler._resolved[1]["/api/v1/boom"] for n in range(RESOLVED_PATHS_MAX)})
    handler.resolve_request(_request("/live"))
    assert list(handler._resolved[1]) == ["/live"]
