"""Errors raised by the WooCommerce client, each saying whether retrying can help.

``PermanentError``: the shop understood the request and refused it (bad input, wrong
credentials, missing object). Sending the same request again fails the same way, so
callers record the failure instead of retrying.

``TransientError``: the shop could not be reached or was overloaded (timeouts,
connection errors, 429, 5xx) and the client's bounded retries ran out. The same
request may succeed later; ``retry_after`` says when the shop asked us to come back,
and ``outcome_unknown`` is true when a non-idempotent write may have been applied
(the caller must check before writing again: see ``idempotency.py``).

Messages carry the HTTP method, the path and WooCommerce's own ``code``/``message``;
never the query string (it holds the OAuth signature) nor the credentials.
"""

from __future__ import annotations

from typing import Any, ClassVar

from devskyy.core.errors import DomainError


class WooCommerceError(DomainError):
    """Base of every error the client raises."""

    status_code = 502
    code = "woocommerce_error"
    transient: ClassVar[bool] = False

    def __init__(
        self,
        message: str,
        *,
        method: str = "",
        path: str = "",
        http_status: int | None = None,
        wc_code: str | None = None,
        wc_message: str | None = None,
        attempts: int = 0,
        details: Any = None,
        code: str | None = None,
    ) -> None:
        super().__init__(message, details=details, code=code)
        self.method = method
        self.path = path
        self.http_status = http_status
        self.wc_code = wc_code
        self.wc_message = wc_message
        self.attempts = attempts


class PermanentError(WooCommerceError):
    """The shop refused the request; repeating it unchanged cannot succeed."""

    code = "woocommerce_rejected"


class AuthenticationError(PermanentError):
    """401/403: the consumer key/secret is wrong, or the key lacks the permission needed."""

    code = "woocommerce_auth_failed"


class ObjectNotFoundError(PermanentError):
    """404: the product, order or customer does not exist (or was deleted) in the shop."""

    code = "woocommerce_not_found"


class MalformedResponseError(PermanentError):
    """The shop answered 2xx with something that is not the documented v3 shape."""

    code = "woocommerce_bad_response"


class ConfigurationError(PermanentError):
    """The connection settings are unusable (no URL, no key, plain http to a public host)."""

    status_code = 503
    code = "woocommerce_not_configured"


class TransientError(WooCommerceError):
    """The shop was unreachable or overloaded and retries ran out; try again later."""

    status_code = 503
    code = "woocommerce_unavailable"
    transient = True

    def __init__(
        self,
        message: str,
        *,
        retry_after: float | None = None,
        outcome_unknown: bool = False,
        **kwargs: Any,
    ) -> None:
        super().__init__(message, **kwargs)
        self.retry_after = retry_after
        self.outcome_unknown = outcome_unknown
