"""Authentication the way WooCommerce's REST API expects it.

* HTTPS: HTTP Basic with the consumer key as user and the consumer secret as password.
* Plain HTTP: OAuth 1.0a "one-legged" (no token), the parameters in the query string,
  HMAC-SHA256, signing key ``consumer_secret + "&"`` (WooCommerce does not
  percent-encode the secret; its ``cs_<hex>`` secrets never need it). A new
  timestamp and nonce are made for every attempt, so a retried request is not
  refused as a replay.

Plain HTTP sends the key in the clear, so it is allowed only to loopback hosts (tests,
a local shop) or when the caller sets ``allow_insecure_http``.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import ipaddress
import secrets
import time
from collections.abc import Callable, Generator
from urllib.parse import quote, urlsplit

import httpx

from .errors import ConfigurationError

API_PREFIX = "/wp-json/wc/v3/"
SIGNATURE_METHOD = "HMAC-SHA256"


def is_loopback_host(host: str) -> bool:
    if host.lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def api_base_url(store_url: str, *, allow_insecure_http: bool = False) -> str:
    """``https://shop.example`` -> ``https://shop.example/wp-json/wc/v3/`` after checks.

    A store living in a sub-folder (``https://example.com/shop``) keeps its folder.
    """
    parts = urlsplit(store_url.strip())
    if parts.scheme not in {"http", "https"} or not parts.hostname:
        raise ConfigurationError("The WooCommerce store URL must be an absolute http(s) URL (WORDPRESS_URL).")
    if parts.query or parts.fragment or parts.username or parts.password:
        raise ConfigurationError("The WooCommerce store URL must not contain credentials, a query or a fragment.")
    if parts.scheme == "http" and not (allow_insecure_http or is_loopback_host(parts.hostname)):
        raise ConfigurationError(
            "Refusing plain http to a non-loopback WooCommerce store: the consumer key would travel in the "
            "clear. Use https, or set allow_insecure_http for a shop you control."
        )
    path = parts.path.rstrip("/")
    if path.endswith("/wp-json/wc/v3"):
        path = path[: -len("/wp-json/wc/v3")]
    return f"{parts.scheme}://{parts.netloc}{path}{API_PREFIX}"


def _encode(value: str) -> str:
    """RFC 3986 percent-encoding (everything but ALPHA / DIGIT / - . _ ~)."""
    return quote(value, safe="~")


def signature_base_uri(url: httpx.URL) -> str:
    """Scheme, host, port (unless the default) and path: RFC 5849 section 3.4.1.2."""
    scheme = url.scheme.lower()
    host = url.host.lower()
    if ":" in host:  # IPv6 literal
        host = f"[{host}]"
    default_port = {"http": 80, "https": 443}.get(scheme)
    netloc = host if url.port in (None, default_port) else f"{host}:{url.port}"
    return f"{scheme}://{netloc}{url.path}"


def oauth_signature(method: str, url: httpx.URL, params: list[tuple[str, str]], consumer_secret: str) -> str:
    """Base64 HMAC-SHA256 over ``METHOD&enc(base-uri)&enc(sorted encoded params)``."""
    encoded = sorted((_encode(key), _encode(value)) for key, value in params)
    normalized = "&".join(f"{key}={value}" for key, value in encoded)
    base_string = "&".join((method.upper(), _encode(signature_base_uri(url)), _encode(normalized)))
    key = (consumer_secret + "&").encode()
    digest = hmac.new(key, base_string.encode(), hashlib.sha256).digest()
    return base64.b64encode(digest).decode("ascii")


def sign_url(
    method: str,
    url: httpx.URL,
    consumer_key: str,
    consumer_secret: str,
    *,
    clock: Callable[[], float] = time.time,
) -> httpx.URL:
    """The URL with oauth_* parameters and their signature added to its query."""
    oauth = [
        ("oauth_consumer_key", consumer_key),
        ("oauth_nonce", secrets.token_hex(16)),
        ("oauth_signature_method", SIGNATURE_METHOD),
        ("oauth_timestamp", str(int(clock()))),
    ]
    existing = [(key, value) for key, value in url.params.multi_items() if not key.startswith("oauth_")]
    signature = oauth_signature(method, url, existing + oauth, consumer_secret)
    return url.copy_with(params=httpx.QueryParams([*existing, *oauth, ("oauth_signature", signature)]))


class WooCommerceAuth(httpx.Auth):
    """Basic over HTTPS, OAuth 1.0a query signing over plain HTTP; chosen per request."""

    def __init__(self, consumer_key: str, consumer_secret: str) -> None:
        self._key = consumer_key
        self._secret = consumer_secret
        self._basic = httpx.BasicAuth(consumer_key, consumer_secret)

    def __repr__(self) -> str:
        return f"WooCommerceAuth(consumer_key={self._key[:6]}...)"

    def auth_flow(self, request: httpx.Request) -> Generator[httpx.Request, httpx.Response, None]:
        if request.url.scheme == "https":
            yield from self._basic.auth_flow(request)
            return
        request.url = sign_url(request.method, request.url, self._key, self._secret)
        yield request
