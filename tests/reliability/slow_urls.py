"""Production URLs plus ``/slow?seconds=N``: a request that holds a worker thread and
a PostgreSQL connection busy for N seconds (``pg_sleep``), then answers 200."""

from __future__ import annotations

import os

from django.db import connection
from django.http import HttpRequest, JsonResponse
from django.urls import include, path

MAX_SECONDS = 10.0


def slow(request: HttpRequest) -> JsonResponse:
    try:
        seconds = min(MAX_SECONDS, max(0.0, float(request.GET.get("seconds", "1"))))
    except ValueError:
        return JsonResponse({"error": "seconds must be a number"}, status=400)
    with connection.cursor() as cursor:
        # The seconds also in the text, so a test can find the query in pg_stat_activity
        # (with server-side binding the parameter is not in it); a float, never text.
        cursor.execute(f"SELECT pg_sleep(%s), count(*) FROM agents_app_agent /* slow {seconds!r} */", [seconds])  # noqa: S608
        _, agents = cursor.fetchone()
    return JsonResponse({"slept": seconds, "agents": agents, "pid": os.getpid()})


urlpatterns = [path("slow", slow), path("", include("devskyy.urls"))]
handler500 = "devskyy.core.errors.handler500"
