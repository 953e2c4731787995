"""The content negotiation's shortcut picks what DRF's own negotiation picks."""

from __future__ import annotations

import pytest
from rest_framework.exceptions import NotAcceptable
from rest_framework.negotiation import DefaultContentNegotiation
from rest_framework.renderers import BrowsableAPIRenderer, JSONRenderer
from rest_framework.request import Request
from rest_framework.test import APIRequestFactory

from devskyy.core.negotiation import ContentNegotiation

CASES = [
    ({}, ""),
    ({"HTTP_ACCEPT": "*/*"}, ""),
    ({"HTTP_ACCEPT": "application/json"}, ""),
    ({"HTTP_ACCEPT": "application/json; indent=4"}, ""),
    ({"HTTP_ACCEPT": "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8"}, ""),
    ({"HTTP_ACCEPT": "*/*"}, "format=api"),
    ({}, "format=json"),
    ({}, "limit=5&format=json"),
]


@pytest.mark.parametrize("renderers", [[JSONRenderer()], [JSONRenderer(), BrowsableAPIRenderer()]])
@pytest.mark.parametrize(("headers", "query"), CASES)
def test_same_choice_as_drf(renderers: list, headers: dict[str, str], query: str) -> None:
    request = Request(APIRequestFactory().get(f"/x?{query}" if query else "/x", **headers))  # type: ignore[arg-type]

    def choose(negotiation: DefaultContentNegotiation) -> object:
        try:
            renderer, media_type = negotiation.select_renderer(request, renderers)
        except Exception as exc:  # noqa: BLE001 - 406, or 404 for an unknown ?format=
            return type(exc)
        return type(renderer), media_type

    assert choose(ContentNegotiation()) == choose(DefaultContentNegotiation())


def test_an_unacceptable_type_is_still_refused() -> None:
    request = Request(APIRequestFactory().get("/x", HTTP_ACCEPT="text/csv"))
    with pytest.raises(NotAcceptable):
        ContentNegotiation().select_renderer(request, [JSONRenderer()])
