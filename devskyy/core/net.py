"""The client's address, trusting X-Forwarded-For only for configured proxies."""

from __future__ import annotations

import ipaddress
from collections.abc import Mapping
from typing import Any

from django.conf import settings
from django.http import HttpRequest


def _valid_ip(value: str) -> str | None:
    value = value.strip()
    try:
        return str(ipaddress.ip_address(value))
    except ValueError:
        return None


def client_ip(request: HttpRequest) -> str:
    """The address of the client that sent the request.

    With TRUSTED_PROXY_COUNT = n > 0, each of our n proxies appended the address it
    received the connection from to X-Forwarded-For, so the client is the n-th entry
    from the right; anything left of it was written by the client and is ignored
    (PITFALLS: X-Forwarded-For is spoofable). With n = 0 the header is ignored.
    """
    return client_ip_from_meta(request.META)


def client_ip_from_meta(meta: Mapping[str, Any]) -> str:
    """:func:`client_ip` from a WSGI environ (``request.META``)."""
    remote = _valid_ip(str(meta.get("REMOTE_ADDR", ""))) or "0.0.0.0"  # noqa: S104 - a label, not a bind
    proxies: int = settings.TRUSTED_PROXY_COUNT
    if proxies <= 0:
        return remote
    forwarded = [part for part in str(meta.get("HTTP_X_FORWARDED_FOR", "")).split(",") if part.strip()]
    if not forwarded:
        return remote
    candidate = forwarded[-proxies] if len(forwarded) >= proxies else forwarded[0]
    return _valid_ip(candidate) or remote


def client_ip_for_axes(request: HttpRequest) -> str:
    """django-axes calls this with a Django or a DRF request."""
    django_request = getattr(request, "_request", request)
    return client_ip(django_request)
