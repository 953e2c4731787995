"""A URL conf with a view that fails, to test the 500 path."""

from django.http import HttpRequest, HttpResponse
from django.urls import include, path


def boom(request: HttpRequest) -> HttpResponse:
    raise RuntimeError("secret-internal-detail")


urlpatterns = [path("api/v1/boom", boom), path("", include("devskyy.urls"))]
handler500 = "devskyy.core.errors.handler500"
