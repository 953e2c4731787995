"""HTML pages: the operators' dashboard and the public unsubscribe page. The API lives in agents_app/api/."""

from __future__ import annotations

from django.contrib.admin.views.decorators import staff_member_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_GET, require_http_methods

from agents_app.marketing.unsubscribe import customer_for_token
from commerce_app.services import CustomerNotFoundError, customer_marketing_opt_out


@require_GET
@staff_member_required
def dashboard(request: HttpRequest) -> HttpResponse:
    """Live dashboard: agents, task and agent events, request metrics, service health."""
    response = render(request, "dashboard/index.html")
    response["Content-Security-Policy"] = (
        "default-src 'self'; connect-src 'self' ws: wss:; style-src 'self' 'unsafe-inline'; frame-ancestors 'none'"
    )
    return response


@csrf_exempt  # mail clients POST one-click unsubscribes without a session; the signed token authorises
@require_http_methods(["GET", "POST"])
def unsubscribe(request: HttpRequest, token: str) -> HttpResponse:
    """Public page behind the link in campaign emails (agents_app/marketing/unsubscribe.py)."""
    customer_id = customer_for_token(token)
    if customer_id is None:
        return render(request, "marketing/unsubscribe.html", {"state": "invalid"}, status=400)
    if request.method == "GET":
        return render(request, "marketing/unsubscribe.html", {"state": "confirm"})
    try:
        customer_marketing_opt_out(customer_id=customer_id, actor_label="customer:unsubscribe-link")
    except CustomerNotFoundError:
        return render(request, "marketing/unsubscribe.html", {"state": "invalid"}, status=404)
    return render(request, "marketing/unsubscribe.html", {"state": "done"})
