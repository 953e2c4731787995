"""Operator pages (HTML). The API lives in agents_app/api/."""

from __future__ import annotations

from django.contrib.admin.views.decorators import staff_member_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.views.decorators.http import require_GET


@require_GET
@staff_member_required
def dashboard(request: HttpRequest) -> HttpResponse:
    """Live dashboard: agents, task and agent events, request metrics, service health."""
    response = render(request, "dashboard/index.html")
    response["Content-Security-Policy"] = (
        "default-src 'self'; connect-src 'self' ws: wss:; style-src 'self' 'unsafe-inline'; frame-ancestors 'none'"
    )
    return response
