"""Unsubscribe links in campaign emails: a signed customer id, one click to opt out.

The token is ``django.core.signing`` over the customer id with its own salt, so it
cannot be forged or moved to another customer; it does not expire (an old email's link
must keep working). The page (``agents_app.views.unsubscribe``) shows a button on GET,
so link scanners that fetch URLs never unsubscribe anyone, and opts out on POST, which
is also what mail clients send for RFC 8058 one-click (``List-Unsubscribe-Post``).
"""

from __future__ import annotations

from django.conf import settings
from django.core import signing
from django.urls import reverse

_SALT = "devskyy.marketing.unsubscribe"


def unsubscribe_token(customer_id: int) -> str:
    return signing.dumps(customer_id, salt=_SALT, compress=False)


def customer_for_token(token: str) -> int | None:
    """The customer id the token was made for; None when it is not one of ours."""
    try:
        value = signing.loads(token, salt=_SALT)
    except signing.BadSignature:
        return None
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def unsubscribe_url(customer_id: int) -> str:
    """Absolute link for the email; empty when MARKETING_PUBLIC_URL is not set."""
    base = settings.MARKETING_PUBLIC_URL.rstrip("/")
    if not base:
        return ""
    return base + reverse("marketing-unsubscribe", kwargs={"token": unsubscribe_token(customer_id)})
