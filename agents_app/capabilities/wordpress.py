"""WordPress REST API client (``/wp-json/wp/v2``): publish and update posts and pages.

Authentication is an application password (WordPress 5.6+) sent as HTTP Basic with
WORDPRESS_USER; WORDPRESS_URL is the site root. Every call has an explicit timeout
(WORDPRESS_TIMEOUT_SECONDS) and bounded retries (WORDPRESS_MAX_ATTEMPTS):

* retried: connection errors, timeouts, 408, 429 and 5xx, with exponential backoff
  (WORDPRESS_RETRY_BASE_SECONDS * 2**(n-1)) or the ``Retry-After`` sent (seconds or an
  HTTP date, capped at 30 s);
* a create (POST to the collection) is not idempotent: it is retried only when it
  surely did not reach WordPress (connect failure, 429); a timeout or 5xx raises
  ``WordPressTransientError(outcome_unknown=True)`` at once;
* other 4xx: ``WordPressPermanentError`` at once (401/403: ``WordPressAuthError``), with
  WordPress's own ``code`` and ``message``.

The application password is never logged nor put in an error.
"""

from __future__ import annotations

import html
import logging
from dataclasses import dataclass
from typing import Any

import httpx
from django.conf import settings

from devskyy.core.errors import DomainError
from devskyy.core.http_retry import (
    RETRYABLE_STATUSES,
    Attempt,
    AttemptReport,
    Permanent,
    RetryPolicy,
    Transient,
    call_with_retries,
    parse_retry_after,
)
from devskyy.core.metrics import WORDPRESS_API_CALLS

logger = logging.getLogger(__name__)

KINDS = {"post": "posts", "page": "pages"}
STATUSES = ("draft", "publish", "pending", "private")
_MAX_RETRY_AFTER = 30.0


class WordPressError(DomainError):
    status_code = 502
    code = "wordpress_error"
    transient = False

    def __init__(
        self, message: str, *, http_status: int | None = None, wp_code: str = "", attempts: int = 0, **kwargs: Any
    ) -> None:
        details = {"http_status": http_status, "wp_code": wp_code, "attempts": attempts, **kwargs}
        super().__init__(message, details=details)
        self.http_status = http_status
        self.wp_code = wp_code
        self.attempts = attempts


class WordPressPermanentError(WordPressError):
    """WordPress understood and refused; sending the same request again fails the same way."""

    code = "wordpress_rejected"


class WordPressAuthError(WordPressPermanentError):
    code = "wordpress_auth_failed"


class WordPressTransientError(WordPressError):
    """Unreachable or overloaded and retries ran out; ``outcome_unknown``: a create may have happened."""

    status_code = 503
    code = "wordpress_unavailable"
    transient = True

    def __init__(self, message: str, *, outcome_unknown: bool = False, **kwargs: Any) -> None:
        super().__init__(message, outcome_unknown=outcome_unknown, **kwargs)
        self.outcome_unknown = outcome_unknown


@dataclass(frozen=True)
class Published:
    id: int
    kind: str
    status: str
    link: str
    slug: str
    modified_gmt: str

    def as_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "kind": self.kind,
            "status": self.status,
            "link": self.link,
            "slug": self.slug,
            "modified_gmt": self.modified_gmt,
        }


class WordPressClient:
    def __init__(
        self,
        *,
        base_url: str,
        user: str,
        app_password: str,
        timeout: float = 15.0,
        max_attempts: int = 4,
        retry_base: float = 1.0,
        transport: httpx.BaseTransport | None = None,
    ) -> None:
        # WordPress shows application passwords in groups of four; the spaces are optional.
        self._auth = httpx.BasicAuth(user, app_password.replace(" ", ""))
        self._api = base_url.rstrip("/") + "/wp-json/wp/v2/"
        self._retry = RetryPolicy.doubling(max_attempts=max_attempts, base=retry_base)
        self._client = httpx.Client(timeout=httpx.Timeout(timeout), trust_env=False, transport=transport)

    @classmethod
    def from_settings(cls) -> WordPressClient:
        return cls(
            base_url=settings.WORDPRESS_URL,
            user=settings.WORDPRESS_USER,
            app_password=settings.WORDPRESS_APP_PASSWORD,
            timeout=settings.WORDPRESS_TIMEOUT_SECONDS,
            max_attempts=settings.WORDPRESS_MAX_ATTEMPTS,
            retry_base=settings.WORDPRESS_RETRY_BASE_SECONDS,
        )

    def close(self) -> None:
        self._client.close()

    def __enter__(self) -> WordPressClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # --- calls ---------------------------------------------------------------------------------
    def create(self, *, kind: str, fields: dict[str, Any]) -> Published:
        return self._published(kind, self._call("POST", KINDS[kind], fields, idempotent=False))

    def update(self, *, kind: str, object_id: int, fields: dict[str, Any]) -> Published:
        # WordPress updates with POST to the item; setting the same fields twice is harmless.
        return self._published(kind, self._call("POST", f"{KINDS[kind]}/{object_id}", fields, idempotent=True))

    def get(self, *, kind: str, object_id: int) -> dict[str, Any]:
        data: dict[str, Any] = self._call("GET", f"{KINDS[kind]}/{object_id}", None, idempotent=True)
        return data

    def _published(self, kind: str, data: Any) -> Published:
        try:
            return Published(
                id=int(data["id"]),
                kind=kind,
                status=str(data["status"]),
                link=str(data.get("link", "")),
                slug=str(data.get("slug", "")),
                modified_gmt=str(data.get("modified_gmt", "")),
            )
        except (KeyError, TypeError, ValueError):
            raise WordPressPermanentError("WordPress answered without the documented post fields.") from None

    def _call(self, method: str, path: str, body: dict[str, Any] | None, *, idempotent: bool) -> Any:
        url = self._api + path

        def attempt(at: Attempt) -> httpx.Response | Permanent | Transient:
            try:
                response = self._client.request(method, url, json=body, auth=self._auth)
            except httpx.ConnectError as exc:
                error = WordPressTransientError(
                    f"Could not connect to WordPress ({type(exc).__name__}).", attempts=at.number
                )
                return Transient(error)
            except httpx.TransportError as exc:  # timeout or broken connection after sending
                error = WordPressTransientError(
                    f"WordPress did not answer ({type(exc).__name__}).",
                    attempts=at.number,
                    outcome_unknown=not idempotent,
                )
                return Transient(error, retryable=idempotent)
            if response.status_code < 300:
                return response
            return self._failure(response, method, path, at.number, idempotent=idempotent)

        def count(done: AttemptReport) -> None:
            WORDPRESS_API_CALLS.labels(method=method, outcome=done.outcome).inc()
            if done.outcome == "retry":
                logger.info("WordPress call retry %d in %.2fs", done.number, done.delay)

        response = call_with_retries(attempt, policy=self._retry, on_attempt=count)
        try:
            return response.json()
        except ValueError:
            raise WordPressPermanentError("WordPress answered with something that is not JSON.") from None

    def _failure(
        self, response: httpx.Response, method: str, path: str, attempts: int, *, idempotent: bool
    ) -> Permanent | Transient:
        status = response.status_code
        wp_code, wp_message = self._error_fields(response)
        if status in RETRYABLE_STATUSES:
            may_retry = idempotent or status == 429
            error = WordPressTransientError(
                f"WordPress answered {status} to {method} /{path}: {wp_message or 'no message'}",
                http_status=status,
                wp_code=wp_code,
                attempts=attempts,
                outcome_unknown=not may_retry,
            )
            retry_after = parse_retry_after(response.headers.get("Retry-After"), cap=_MAX_RETRY_AFTER)
            return Transient(error, retry_after=retry_after, retryable=may_retry)
        error_class = WordPressAuthError if status in (401, 403) else WordPressPermanentError
        return Permanent(
            error_class(
                f"WordPress refused {method} /{path} ({status} {wp_code}): {wp_message}",
                http_status=status,
                wp_code=wp_code,
                attempts=attempts,
            )
        )

    @staticmethod
    def _error_fields(response: httpx.Response) -> tuple[str, str]:
        try:
            data = response.json()
        except ValueError:
            return "", ""
        if not isinstance(data, dict):
            return "", ""
        return str(data.get("code", ""))[:100], str(data.get("message", ""))[:300]


# --- services used by the tools -------------------------------------------------------------------
def content_publish(
    *, kind: str, title: str, content: str, status: str = "draft", excerpt: str = "", slug: str = ""
) -> dict[str, Any]:
    fields: dict[str, Any] = {"title": title, "content": content, "status": status}
    if excerpt:
        fields["excerpt"] = excerpt
    if slug:
        fields["slug"] = slug
    with WordPressClient.from_settings() as client:
        return client.create(kind=kind, fields=fields).as_dict()


def content_update(*, kind: str, object_id: int, fields: dict[str, Any]) -> dict[str, Any]:
    with WordPressClient.from_settings() as client:
        return client.update(kind=kind, object_id=object_id, fields=fields).as_dict()


def product_content_html(*, name: str, description: str, price: str, currency: str, images: list[Any]) -> str:
    """Block markup for a product's page: image, description and price (escaped)."""
    parts = []
    first = next((i for i in images if isinstance(i, str) and i.startswith(("https://", "http://"))), None)
    if first:
        parts.append(
            f'<!-- wp:image -->\n<figure class="wp-block-image"><img src="{html.escape(first)}" '
            f'alt="{html.escape(name)}"/></figure>\n<!-- /wp:image -->'
        )
    for paragraph in [p.strip() for p in description.split("\n\n") if p.strip()]:
        parts.append(f"<!-- wp:paragraph -->\n<p>{html.escape(paragraph)}</p>\n<!-- /wp:paragraph -->")
    parts.append(
        f"<!-- wp:paragraph -->\n<p><strong>{html.escape(price)} {html.escape(currency)}</strong></p>\n"
        "<!-- /wp:paragraph -->"
    )
    return "\n\n".join(parts)
