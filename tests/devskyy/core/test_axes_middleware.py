"""django-axes' middleware subclass (devskyy/core/middleware.py) answers as the library's."""

from __future__ import annotations

import asyncio

import pytest
from axes.middleware import AxesMiddleware as LibraryAxesMiddleware
from django.http import HttpRequest, HttpResponse
from django.test import RequestFactory, override_settings

from devskyy.core.middleware import AxesMiddleware

pytestmark = pytest.mark.django_db


def _view(locked: bool):
    def view(request: HttpRequest) -> HttpResponse:
        if locked:
            request.axes_locked_out = True  # type: ignore[attr-defined]  # what axes' signal handler sets
            request.axes_credentials = {"username": "someone"}  # type: ignore[attr-defined]
        return HttpResponse(b"view", status=200)

    return view


def _answer(middleware_class: type, locked: bool) -> tuple[int, bytes]:
    request = RequestFactory().post("/admin/login/")
    response = middleware_class(_view(locked))(request)
    return response.status_code, response.content


@pytest.mark.parametrize("locked", [False, True])
def test_a_lockout_flag_becomes_the_librarys_lockout_response(locked: bool) -> None:
    ours = _answer(AxesMiddleware, locked)
    assert ours == _answer(LibraryAxesMiddleware, locked)
    assert (ours[0] == 200) is not locked


@override_settings(AXES_ENABLED=False)
def test_with_axes_disabled_the_view_answers() -> None:
    assert _answer(AxesMiddleware, True) == (200, b"view")


def test_an_async_chain_stays_async() -> None:
    async def view(request: HttpRequest) -> HttpResponse:
        return HttpResponse(b"async view")

    middleware = AxesMiddleware(view)  # type: ignore[arg-type]  # an async chain
    result = middleware(RequestFactory().get("/"))
    assert asyncio.iscoroutine(result)
    assert asyncio.run(result).content == b"async view"


def test_a_stack_without_the_lockout_middleware_fails_the_system_check(settings) -> None:
    from devskyy.core.checks import lockout_middleware_check

    assert lockout_middleware_check() == []
    settings.API_MIDDLEWARE = [m for m in settings.API_MIDDLEWARE if not m.endswith("AxesMiddleware")]
    errors = lockout_middleware_check()
    assert [e.id for e in errors] == ["core.E001"]
    assert "API_MIDDLEWARE" in errors[0].msg
