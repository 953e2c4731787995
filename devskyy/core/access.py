"""Which routes are public: the one list that views and the auth-matrix test share.

Every route is either listed here or protected by DRF's default authentication and
``RolePermission`` (devskyy/core/permissions.py). The auth-matrix test walks the URL
conf and fails when a route is neither, so a new route cannot be public by accident.
Entries are URL names (``namespace:name``).
"""

from __future__ import annotations

from collections.abc import Callable

from django.http import HttpRequest

PUBLIC_ROUTES: frozenset[str] = frozenset(
    {
        # Platform probes and the directory (health_app).
        "health:root",
        "health:health",
        "health:ready",
        "health:live",
        # Prometheus scrape: bearer-protected by METRICS_TOKEN when it is set.
        "health:metrics",
        "health:metrics-cache",
        # API description.
        "schema",
        "docs",
        # Token endpoints: the credential is in the body (password or refresh token).
        "auth:token",
        "auth:refresh",
        "auth:logout",
        # WooCommerce deliveries: authenticated by X-WC-Webhook-Signature in the view.
        "commerce:woocommerce-webhook",
        # Unsubscribe page behind the link in campaign emails: the signed token is the credential.
        "marketing-unsubscribe",
    }
)

# Public routes whose requests prove themselves with a signature. A request that passes
# the registered check is not rate limited (the shop's bursts must never be refused);
# one that fails it counts against its IP like any other. Apps register the check in
# AppConfig.ready() (the core imports no app).
SIGNED_ROUTE_CHECKS: dict[str, Callable[[HttpRequest], bool]] = {}


def register_signed_route(name: str, check: Callable[[HttpRequest], bool]) -> None:
    if name not in PUBLIC_ROUTES:
        raise ValueError(f"{name!r} is not a public route")
    SIGNED_ROUTE_CHECKS[name] = check


# Authenticated routes any authenticated principal may use whatever its role, because
# they act only on the caller's own identity (no role check on writes).
SELF_SERVICE_ROUTES: frozenset[str] = frozenset({"auth:me"})


# HTML pages for staff signed in to the admin (session + staff check, login redirect
# otherwise); not part of the API.
STAFF_PAGES: frozenset[str] = frozenset({"dashboard"})


def route_name(request: HttpRequest) -> str | None:
    match = getattr(request, "resolver_match", None)
    return match.view_name if match is not None else None


def is_public(request: HttpRequest) -> bool:
    return route_name(request) in PUBLIC_ROUTES
