"""The CORS middleware's shortcut (devskyy/core/cors.py) answers as corsheaders does."""

from __future__ import annotations

import itertools

import pytest
from corsheaders.middleware import CorsMiddleware as LibraryCorsMiddleware
from corsheaders.signals import check_request_enabled
from django.http import HttpRequest, HttpResponse
from django.test import RequestFactory, override_settings

from devskyy.core.cors import CorsMiddleware

ALLOWED = "https://app.devskyy.app"


def _answer(middleware_class: type, method: str, path: str, headers: dict[str, str], vary: str | None) -> tuple:
    calls: list[str] = []

    def view(request: HttpRequest) -> HttpResponse:
        calls.append(request.path)
        response = HttpResponse(b"{}", content_type="application/json")
        if vary:
            response["Vary"] = vary
        return response

    request = RequestFactory().generic(method, path, headers=headers)
    response = middleware_class(view)(request)
    return response.status_code, sorted(response.items()), calls, getattr(request, "_cors_enabled", None)


@pytest.mark.parametrize(
    ("method", "path", "origin", "preflight", "vary"),
    list(
        itertools.product(
            ["GET", "POST", "OPTIONS"],
            ["/api/v1/auth/me", "/live", "/admin/login/"],
            [None, ALLOWED, "https://evil.example"],
            [False, True],
            [None, "Accept-Encoding"],
        )
    ),
)
def test_every_request_gets_what_corsheaders_gives_it(method, path, origin, preflight, vary) -> None:
    headers = {}
    if origin:
        headers["Origin"] = origin
    if preflight:
        headers["Access-Control-Request-Method"] = "POST"
    assert _answer(CorsMiddleware, method, path, headers, vary) == _answer(
        LibraryCorsMiddleware, method, path, headers, vary
    )


@override_settings(CORS_URLS_REGEX=r"^/api/")
def test_routes_outside_cors_and_the_enabling_signal_are_honoured_without_an_origin() -> None:
    assert ("Vary", "origin") in _answer(CorsMiddleware, "GET", "/api/v1/auth/me", {}, None)[1]

    def enable(sender: object, request: HttpRequest, **kwargs: object) -> bool:
        return request.path == "/dashboard/"

    check_request_enabled.connect(enable)
    try:
        ours = _answer(CorsMiddleware, "GET", "/dashboard/", {}, None)
        assert ours == _answer(LibraryCorsMiddleware, "GET", "/dashboard/", {}, None)
        assert ("Vary", "origin") in ours[1]
    finally:
        check_request_enabled.disconnect(enable)
    assert ("Vary", "origin") not in _answer(CorsMiddleware, "GET", "/dashboard/", {}, None)[1]


def test_the_settings_use_it_in_every_stack() -> None:
    from django.conf import settings

    for stack in (settings.MIDDLEWARE, settings.API_MIDDLEWARE, settings.PROBE_MIDDLEWARE):
        assert "devskyy.core.cors.CorsMiddleware" in stack
        assert "corsheaders.middleware.CorsMiddleware" not in stack
