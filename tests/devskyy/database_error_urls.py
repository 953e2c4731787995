"""A URL conf whose views fail the way they do when PostgreSQL is away."""

from django.db import OperationalError
from django.http import HttpRequest, HttpResponse
from django.urls import include, path
from rest_framework.permissions import AllowAny
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

MESSAGE = 'connection failed: connection to server at "10.1.2.3", port 5432 failed: Connection refused'


class DatabaseGoneView(APIView):
    authentication_classes = ()
    permission_classes = (AllowAny,)

    def get(self, request: Request) -> Response:
        raise OperationalError(MESSAGE)


def database_gone_plain(request: HttpRequest) -> HttpResponse:
    raise OperationalError(MESSAGE)


def boom(request: HttpRequest) -> HttpResponse:
    raise RuntimeError("not a database problem")


urlpatterns = [
    path("api/v1/db-gone", DatabaseGoneView.as_view()),
    path("api/v1/db-gone-plain", database_gone_plain),
    path("api/v1/boom", boom),
    path("", include("devskyy.urls")),
]
handler500 = "devskyy.core.errors.handler500"
