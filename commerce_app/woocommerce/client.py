"""WooCommerce REST API v3 client: synchronous, for Celery tasks and commands.

One ``WooCommerceClient`` per shop connection (it holds a pooled ``httpx.Client``;
close it, or use it as a context manager). Every call has explicit timeouts and
bounded retries:

* retried: connection errors, timeouts, 408, 429 and 5xx, with exponential backoff and
  jitter, or exactly the ``Retry-After`` the shop sent (seconds or an HTTP date),
  until ``RetryPolicy.max_attempts`` or ``max_total_wait`` seconds of waiting;
  then ``TransientError``.
* a write that is not idempotent (a create, a batch with creates) is retried only
  when it surely did not reach WooCommerce (connect failure, 429); otherwise it
  raises ``TransientError(outcome_unknown=True)`` at once and the caller checks
  before writing again (``idempotency.py``).
* any other 4xx: ``PermanentError`` at once, with WooCommerce's ``code``/``message``;
  401/403 as ``AuthenticationError``, 404 as ``ObjectNotFoundError``.

Each attempt is counted in ``woocommerce_api_calls_total{method, outcome}`` (outcome
``ok``, ``retry``, ``transient`` or ``permanent``) and timed in
``woocommerce_api_call_duration_seconds``. Logs name the method and path only: the
query string carries the OAuth signature, and httpx's own request log line is
redacted for it below.
"""

from __future__ import annotations

import logging
import ssl
import time
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Generic, TypeVar

import httpx

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
from devskyy.core.logging import Throttled
from devskyy.core.metrics import WOOCOMMERCE_API_CALLS, WOOCOMMERCE_API_DURATION

from .auth import WooCommerceAuth, api_base_url
from .errors import (
    AuthenticationError,
    ConfigurationError,
    MalformedResponseError,
    ObjectNotFoundError,
    PermanentError,
    TransientError,
    WooCommerceError,
)
from .idempotency import IDEMPOTENCY_META_KEY, WriteOutcome, idempotency_key_of, with_idempotency_key
from .payloads import (
    BatchAction,
    BatchItemResult,
    BatchResult,
    Customer,
    Order,
    Product,
    Variation,
    Webhook,
    decode_json,
    encode_json,
    format_gmt,
    meta_value,
    parse_customer,
    parse_item_error,
    parse_order,
    parse_product,
    parse_variation,
    parse_webhook,
)

logger = logging.getLogger(__name__)
_retry_log = Throttled(logger, 10.0)

MAX_PER_PAGE = 100
MAX_BATCH_ITEMS = 100  # WooCommerce's default woocommerce_rest_batch_items_limit (create+update+delete)
_IDEMPOTENT_METHODS = frozenset({"GET", "HEAD", "OPTIONS", "PUT", "DELETE"})
_KNOWN_METHODS = frozenset({"GET", "HEAD", "OPTIONS", "PUT", "POST", "PATCH", "DELETE"})

T = TypeVar("T")
ParamValue = str | int | bool | datetime | Sequence[int] | None
Params = Mapping[str, ParamValue]


@dataclass(frozen=True, slots=True)
class Timeouts:
    """Seconds. ``read`` bounds the wait for each chunk of the answer, not the whole call."""

    connect: float = 5.0
    read: float = 30.0
    write: float = 30.0
    pool: float = 5.0

    def as_httpx(self) -> httpx.Timeout:
        return httpx.Timeout(connect=self.connect, read=self.read, write=self.write, pool=self.pool)


@dataclass(frozen=True, slots=True)
class ApiResponse:
    status: int
    headers: httpx.Headers
    data: Any
    attempts: int


@dataclass(frozen=True, slots=True)
class Page(Generic[T]):
    """One page of a listing; ``total``/``total_pages`` from ``X-WP-Total``/``X-WP-TotalPages``."""

    items: list[T]
    page: int
    per_page: int
    total: int | None
    total_pages: int | None

    @property
    def has_next(self) -> bool:
        if self.total_pages is not None:
            return self.page < self.total_pages
        return len(self.items) == self.per_page


class _RedactSignedQuery(logging.Filter):
    """httpx logs every request URL at INFO; drop the query when it carries OAuth params."""

    def filter(self, record: logging.LogRecord) -> bool:
        if isinstance(record.args, tuple) and any(_is_signed(arg) for arg in record.args):
            record.args = tuple(_redacted(arg) if _is_signed(arg) else arg for arg in record.args)
        return True


def _is_signed(value: object) -> bool:
    return isinstance(value, httpx.URL) and b"oauth_signature" in value.query


def _redacted(value: object) -> str:
    url = str(value)
    return url.split("?", 1)[0] + "?[oauth query redacted]"


if not any(isinstance(f, _RedactSignedQuery) for f in logging.getLogger("httpx").filters):
    logging.getLogger("httpx").addFilter(_RedactSignedQuery())


def _query(params: Params | None) -> list[tuple[str, str]]:
    query: list[tuple[str, str]] = []
    for key, value in (params or {}).items():
        if value is None:
            continue
        if isinstance(value, bool):
            query.append((key, "true" if value else "false"))
        elif isinstance(value, datetime):
            query.append((key, format_gmt(value)))
        elif isinstance(value, str | int):
            query.append((key, str(value)))
        else:  # WordPress accepts lists as comma-separated values
            query.append((key, ",".join(str(int(item)) for item in value)))
    return query


def _header_int(headers: httpx.Headers, name: str) -> int | None:
    try:
        return int(headers[name])
    except (KeyError, ValueError):
        return None


def _wc_error(response: httpx.Response) -> tuple[str | None, str | None]:
    try:
        body = decode_json(response.content)
    except ValueError:
        return None, None
    if not isinstance(body, Mapping):
        return None, None
    code, message = body.get("code"), body.get("message")
    return (code if isinstance(code, str) else None), (message if isinstance(message, str) else None)


def _listing_params(
    *, modified_after: datetime | None, filters: Params | None, ordered: bool = True
) -> dict[str, ParamValue]:
    params: dict[str, ParamValue] = dict(filters or {})
    if ordered:
        # Ascending ids keep pages stable while the shop gains objects during a long listing.
        params.setdefault("orderby", "id")
        params.setdefault("order", "asc")
    if modified_after is not None:
        params["modified_after"] = modified_after
        params["dates_are_gmt"] = True
    return params


class WooCommerceClient:
    """Typed access to a WooCommerce shop's v3 REST API (see the module docstring)."""

    def __init__(
        self,
        store_url: str,
        consumer_key: str,
        consumer_secret: str,
        *,
        timeouts: Timeouts | None = None,
        retry: RetryPolicy | None = None,
        allow_insecure_http: bool = False,
        verify: ssl.SSLContext | bool = True,
        user_agent: str = "DevSkyy-WooCommerce/1",
        sleep: Callable[[float], None] = time.sleep,
        transport: httpx.BaseTransport | None = None,
    ) -> None:
        if not consumer_key or not consumer_secret:
            raise ConfigurationError("WooCommerce consumer key and secret are required (WOOCOMMERCE_KEY/SECRET).")
        self.base_url = api_base_url(store_url, allow_insecure_http=allow_insecure_http)
        self.retry = retry or RetryPolicy()
        self.timeouts = timeouts or Timeouts()
        self._sleep = sleep
        self._http = httpx.Client(
            auth=WooCommerceAuth(consumer_key, consumer_secret),
            timeout=self.timeouts.as_httpx(),
            verify=verify,
            follow_redirects=False,
            headers={"User-Agent": user_agent, "Accept": "application/json"},
            transport=transport,
        )

    @classmethod
    def from_settings(cls, **overrides: Any) -> WooCommerceClient:
        """A client for the shop configured in the environment (WORDPRESS_URL, WOOCOMMERCE_*)."""
        from django.conf import settings

        if not (settings.WORDPRESS_URL and settings.WOOCOMMERCE_KEY and settings.WOOCOMMERCE_SECRET):
            raise ConfigurationError(
                "WooCommerce is not configured: set WORDPRESS_URL, WOOCOMMERCE_KEY and WOOCOMMERCE_SECRET."
            )
        options: dict[str, Any] = {
            "timeouts": Timeouts(connect=settings.WOOCOMMERCE_CONNECT_TIMEOUT, read=settings.WOOCOMMERCE_READ_TIMEOUT),
            "retry": RetryPolicy(
                max_attempts=settings.WOOCOMMERCE_MAX_ATTEMPTS, max_total_wait=settings.WOOCOMMERCE_MAX_RETRY_WAIT
            ),
            "allow_insecure_http": settings.WOOCOMMERCE_ALLOW_INSECURE_HTTP,
            **overrides,
        }
        return cls(settings.WORDPRESS_URL, settings.WOOCOMMERCE_KEY, settings.WOOCOMMERCE_SECRET, **options)

    def __repr__(self) -> str:
        return f"WooCommerceClient({self.base_url!r})"

    def close(self) -> None:
        self._http.close()

    def __enter__(self) -> WooCommerceClient:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    # --- transport -------------------------------------------------------------------

    def request(
        self,
        method: str,
        path: str,
        *,
        params: Params | None = None,
        json: object = None,
        idempotent: bool | None = None,
    ) -> ApiResponse:
        """One API call with retries; ``path`` is relative to ``/wp-json/wc/v3/``.

        ``idempotent`` defaults to the method's HTTP meaning (POST and PATCH are not).
        """
        method = method.upper()
        if idempotent is None:
            idempotent = method in _IDEMPOTENT_METHODS
        path = path.lstrip("/")
        label = method if method in _KNOWN_METHODS else "OTHER"
        url = self.base_url + path
        query = httpx.QueryParams(tuple(_query(params)))
        content = encode_json(json) if json is not None else None
        headers = {"Content-Type": "application/json"} if content is not None else {}

        def attempt(at: Attempt) -> tuple[httpx.Response, int] | Permanent | Transient:
            started = time.perf_counter()
            retry_after: float | None = None
            try:
                response = self._http.request(method, url, params=query, content=content, headers=headers)
            except httpx.TransportError as exc:
                WOOCOMMERCE_API_DURATION.labels(method=label).observe(time.perf_counter() - started)
                # Failing to connect means the shop never saw the request.
                reached_shop = not isinstance(exc, httpx.ConnectError | httpx.ConnectTimeout | httpx.PoolTimeout)
                problem = f"{type(exc).__name__} ({'timed out' if isinstance(exc, httpx.TimeoutException) else exc})"
                status = None
            else:
                WOOCOMMERCE_API_DURATION.labels(method=label).observe(time.perf_counter() - started)
                if response.is_success:
                    return response, at.number
                status = response.status_code
                if status not in RETRYABLE_STATUSES:
                    return Permanent(self._permanent(response, method, path, at.number))
                retry_after = parse_retry_after(response.headers.get("Retry-After"))
                reached_shop = status != 429  # 429 is refused before any processing
                code, message = _wc_error(response)
                problem = f"HTTP {status}" + (f" {code}: {message}" if code else "")

            outcome_unknown = reached_shop and method not in {"GET", "HEAD", "OPTIONS"}
            context = {"method": method, "path": path, "http_status": status, "attempts": at.number}
            if reached_shop and not idempotent:
                error = TransientError(
                    f"WooCommerce {method} /{path} failed ({problem}); not retried because the write may have "
                    "been applied: check the object before writing again.",
                    retry_after=retry_after,
                    outcome_unknown=True,
                    **context,
                )
                return Transient(error, retryable=False)
            error = TransientError(
                f"WooCommerce {method} /{path} failed ({problem}); gave up after {at.number} attempt(s) "
                f"and {at.waited:.1f}s of backoff, try again later.",
                retry_after=retry_after,
                outcome_unknown=outcome_unknown,
                **context,
            )
            return Transient(error, retry_after=retry_after, detail=problem)

        def count(done: AttemptReport) -> None:
            WOOCOMMERCE_API_CALLS.labels(method=label, outcome=done.outcome).inc()
            if done.outcome == "retry":
                _retry_log.warning(
                    "WooCommerce %s /%s failed with %s (attempt %d of %d); retrying in %.2fs",
                    method,
                    path,
                    done.detail,
                    done.number,
                    self.retry.max_attempts,
                    done.delay,
                )

        response, attempts = call_with_retries(attempt, policy=self.retry, on_attempt=count, sleep=self._sleep)
        return self._decode(response, method, path, attempts)

    def _decode(self, response: httpx.Response, method: str, path: str, attempts: int) -> ApiResponse:
        try:
            data = decode_json(response.content) if response.content else None
        except ValueError:
            raise MalformedResponseError(
                f"WooCommerce answered {method} /{path} with {response.status_code} but the body is not JSON "
                "(a plugin printing output, or the REST API not served at /wp-json/?).",
                method=method,
                path=path,
                http_status=response.status_code,
                attempts=attempts,
            ) from None
        return ApiResponse(status=response.status_code, headers=response.headers, data=data, attempts=attempts)

    def _permanent(self, response: httpx.Response, method: str, path: str, attempts: int) -> PermanentError:
        status = response.status_code
        code, message = _wc_error(response)
        said = f"{status} {code}: {message}" if code else f"{status} without a WooCommerce error body"
        context: dict[str, Any] = {
            "method": method,
            "path": path,
            "http_status": status,
            "wc_code": code,
            "wc_message": message,
            "attempts": attempts,
        }
        if status in (401, 403):
            need = "read" if method in {"GET", "HEAD", "OPTIONS"} else "read/write"
            return AuthenticationError(
                f"WooCommerce refused the API credentials for {method} /{path} ({said}). The consumer key or "
                f"secret is wrong or revoked, or the key lacks {need} permission: check WOOCOMMERCE_KEY and "
                "WOOCOMMERCE_SECRET against WooCommerce > Settings > Advanced > REST API.",
                **context,
            )
        if status == 404:
            return ObjectNotFoundError(f"WooCommerce has no such object: {method} /{path} ({said}).", **context)
        if 300 <= status < 400:
            return PermanentError(
                f"WooCommerce {method} /{path} was redirected ({status}); set the store URL to the address it "
                "redirects to (https, with or without www).",
                **context,
            )
        return PermanentError(f"WooCommerce rejected {method} /{path} ({said}).", **context)

    # --- listing ---------------------------------------------------------------------

    def get_page(
        self, path: str, *, page: int = 1, per_page: int = MAX_PER_PAGE, params: Params | None = None
    ) -> Page[Any]:
        """One page of raw objects from a collection endpoint."""
        if not 1 <= per_page <= MAX_PER_PAGE:
            raise ValueError(f"per_page must be within 1..{MAX_PER_PAGE}.")
        if page < 1:
            raise ValueError("page starts at 1.")
        response = self.request("GET", path, params={**(params or {}), "page": page, "per_page": per_page})
        if not isinstance(response.data, list):
            raise MalformedResponseError(
                f"WooCommerce answered GET /{path.lstrip('/')} with {type(response.data).__name__}, not a list.",
                method="GET",
                path=path,
            )
        return Page(
            items=response.data,
            page=page,
            per_page=per_page,
            total=_header_int(response.headers, "X-WP-Total"),
            total_pages=_header_int(response.headers, "X-WP-TotalPages"),
        )

    def iterate(self, path: str, *, params: Params | None = None, per_page: int = MAX_PER_PAGE) -> Iterator[Any]:
        """Every raw object of a collection, page by page, each id once."""
        seen: set[int] = set()
        page = 1
        while True:
            current = self.get_page(path, page=page, per_page=per_page, params=params)
            for item in current.items:
                object_id = item.get("id") if isinstance(item, Mapping) else None
                if isinstance(object_id, int):
                    if object_id in seen:  # shifted onto this page by a change in the shop
                        continue
                    seen.add(object_id)
                yield item
            if not current.items or not current.has_next:
                return
            page += 1

    def _typed_page(
        self, path: str, parser: Callable[[object], T], page: int, per_page: int, params: Params
    ) -> Page[T]:
        raw = self.get_page(path, page=page, per_page=per_page, params=params)
        return Page(
            items=[parser(item) for item in raw.items],
            page=raw.page,
            per_page=raw.per_page,
            total=raw.total,
            total_pages=raw.total_pages,
        )

    # --- products --------------------------------------------------------------------

    def list_products(
        self,
        *,
        page: int = 1,
        per_page: int = MAX_PER_PAGE,
        modified_after: datetime | None = None,
        filters: Params | None = None,
    ) -> Page[Product]:
        """One page of products. ``modified_after`` is exclusive, to the second, in UTC.

        ``filters`` passes other v3 parameters (``status``, ``sku``, ``include``, ``search``...).
        """
        params = _listing_params(modified_after=modified_after, filters=filters)
        return self._typed_page("products", parse_product, page, per_page, params)

    def iter_products(
        self, *, modified_after: datetime | None = None, filters: Params | None = None, per_page: int = MAX_PER_PAGE
    ) -> Iterator[Product]:
        """All products (or those modified after a moment), oldest id first, each once.

        For an incremental sync, pass the previous cursor minus a small overlap: the
        filter has one-second resolution and is exclusive.
        """
        params = _listing_params(modified_after=modified_after, filters=filters)
        return (parse_product(item) for item in self.iterate("products", params=params, per_page=per_page))

    def get_product(self, product_id: int) -> Product:
        return parse_product(self.request("GET", f"products/{int(product_id)}").data)

    def find_product_by_sku(self, sku: str) -> Product | None:
        if not sku:
            raise ValueError("An empty SKU matches nothing.")
        page = self._typed_page("products", parse_product, 1, 10, {"sku": sku})
        exact = [product for product in page.items if product.sku == sku]
        return exact[0] if exact else None

    def create_product(self, data: Mapping[str, Any]) -> Product:
        """POST /products. Not retried once sent: see ``create_product_once``."""
        return parse_product(self.request("POST", "products", json=dict(data)).data)

    def update_product(self, product_id: int, data: Mapping[str, Any]) -> Product:
        return parse_product(self.request("PUT", f"products/{int(product_id)}", json=dict(data)).data)

    def batch_products(
        self,
        *,
        create: Sequence[Mapping[str, Any]] = (),
        update: Sequence[Mapping[str, Any]] = (),
        delete: Sequence[int] = (),
        retry_sent: bool | None = None,
    ) -> BatchResult[Product]:
        """POST /products/batch, split into calls of at most 100 items. Deletes are permanent
        (WooCommerce forces them in a batch). Per-item failures come back in the result.

        ``retry_sent=False`` never resends a batch that may have reached the shop (the
        outbox checks its idempotency keys instead); by default only creates are not resent.
        """
        return self._batch("products", parse_product, create, update, delete, retry_sent=retry_sent)

    def list_variations(self, product_id: int, *, page: int = 1, per_page: int = MAX_PER_PAGE) -> Page[Variation]:
        pid = int(product_id)
        return self._typed_page(
            f"products/{pid}/variations",
            lambda item: parse_variation(item, product_id=pid),
            page,
            per_page,
            {"orderby": "id", "order": "asc"},
        )

    def iter_variations(self, product_id: int, *, per_page: int = MAX_PER_PAGE) -> Iterator[Variation]:
        pid = int(product_id)
        items = self.iterate(f"products/{pid}/variations", params={"orderby": "id", "order": "asc"}, per_page=per_page)
        return (parse_variation(item, product_id=pid) for item in items)

    # --- orders ----------------------------------------------------------------------

    def list_orders(
        self,
        *,
        page: int = 1,
        per_page: int = MAX_PER_PAGE,
        modified_after: datetime | None = None,
        status: Sequence[str] | str | None = None,
        filters: Params | None = None,
    ) -> Page[Order]:
        params = _listing_params(modified_after=modified_after, filters=filters)
        if status:
            params["status"] = status if isinstance(status, str) else ",".join(status)
        return self._typed_page("orders", parse_order, page, per_page, params)

    def iter_orders(
        self,
        *,
        modified_after: datetime | None = None,
        status: Sequence[str] | str | None = None,
        filters: Params | None = None,
        per_page: int = MAX_PER_PAGE,
    ) -> Iterator[Order]:
        params = _listing_params(modified_after=modified_after, filters=filters)
        if status:
            params["status"] = status if isinstance(status, str) else ",".join(status)
        return (parse_order(item) for item in self.iterate("orders", params=params, per_page=per_page))

    def get_order(self, order_id: int) -> Order:
        return parse_order(self.request("GET", f"orders/{int(order_id)}").data)

    def update_order(self, order_id: int, data: Mapping[str, Any]) -> Order:
        return parse_order(self.request("PUT", f"orders/{int(order_id)}", json=dict(data)).data)

    def batch_orders(
        self,
        *,
        create: Sequence[Mapping[str, Any]] = (),
        update: Sequence[Mapping[str, Any]] = (),
        delete: Sequence[int] = (),
    ) -> BatchResult[Order]:
        return self._batch("orders", parse_order, create, update, delete)

    # --- customers -------------------------------------------------------------------

    def list_customers(
        self, *, page: int = 1, per_page: int = MAX_PER_PAGE, filters: Params | None = None
    ) -> Page[Customer]:
        """Customers have no ``modified_after`` filter in v3: list all (or filter by email/role)."""
        params = _listing_params(modified_after=None, filters=filters)
        return self._typed_page("customers", parse_customer, page, per_page, params)

    def iter_customers(self, *, filters: Params | None = None, per_page: int = MAX_PER_PAGE) -> Iterator[Customer]:
        params = _listing_params(modified_after=None, filters=filters)
        return (parse_customer(item) for item in self.iterate("customers", params=params, per_page=per_page))

    def get_customer(self, customer_id: int) -> Customer:
        return parse_customer(self.request("GET", f"customers/{int(customer_id)}").data)

    def batch_customers(
        self,
        *,
        create: Sequence[Mapping[str, Any]] = (),
        update: Sequence[Mapping[str, Any]] = (),
        delete: Sequence[int] = (),
    ) -> BatchResult[Customer]:
        return self._batch("customers", parse_customer, create, update, delete)

    # --- webhooks --------------------------------------------------------------------

    def list_webhooks(self) -> list[Webhook]:
        """Every webhook of the shop with its ``status`` (active, paused or disabled).

        WooCommerce sets a webhook to ``disabled`` after repeated delivery failures."""
        params: dict[str, ParamValue] = {"orderby": "id", "order": "asc"}
        return [parse_webhook(item) for item in self.iterate("webhooks", params=params)]

    # --- exactly-once writes (see idempotency.py) -------------------------------------

    def create_product_once(self, data: Mapping[str, Any], *, idempotency_key: str) -> WriteOutcome[Product]:
        """Create a product unless one with its SKU already carries ``idempotency_key``.

        Raises ``PermanentError`` (code ``sku_conflict``) when the SKU exists under another key.
        """
        sku = data.get("sku")
        if not isinstance(sku, str) or not sku:
            raise ValueError("create_product_once needs the product's SKU to look for an earlier attempt.")
        existing = self.find_product_by_sku(sku)
        if existing is not None:
            if idempotency_key_of(existing.meta_data) == idempotency_key:
                return WriteOutcome(result=existing, applied=False)
            raise PermanentError(
                f"A WooCommerce product with SKU {sku!r} already exists (id {existing.id}) and was not created "
                "by this change.",
                code="sku_conflict",
                method="POST",
                path="products",
                details={"product_id": existing.id},
            )
        return WriteOutcome(result=self.create_product(with_idempotency_key(data, idempotency_key)), applied=True)

    def update_product_once(
        self, product_id: int, data: Mapping[str, Any], *, idempotency_key: str
    ) -> WriteOutcome[Product]:
        current = self.get_product(product_id)
        if idempotency_key_of(current.meta_data) == idempotency_key:
            return WriteOutcome(result=current, applied=False)
        updated = self.update_product(product_id, with_idempotency_key(data, idempotency_key))
        return WriteOutcome(result=updated, applied=True)

    def update_order_once(self, order_id: int, data: Mapping[str, Any], *, idempotency_key: str) -> WriteOutcome[Order]:
        current = self.get_order(order_id)
        if idempotency_key_of(current.meta_data) == idempotency_key:
            return WriteOutcome(result=current, applied=False)
        updated = self.update_order(order_id, with_idempotency_key(data, idempotency_key))
        return WriteOutcome(result=updated, applied=True)

    def find_products_by_meta(
        self,
        value: object,
        *,
        key: str = IDEMPOTENCY_META_KEY,
        modified_after: datetime | None = None,
        filters: Params | None = None,
    ) -> list[Product]:
        """Products whose meta ``key`` equals ``value``. The v3 API cannot filter on meta, so
        this scans: bound it with ``modified_after`` (the write happened after the outbox row)."""
        products = self.iter_products(modified_after=modified_after, filters=filters)
        return [product for product in products if meta_value(product.meta_data, key) == value]

    def find_orders_by_meta(
        self,
        value: object,
        *,
        key: str = IDEMPOTENCY_META_KEY,
        modified_after: datetime | None = None,
        filters: Params | None = None,
    ) -> list[Order]:
        orders = self.iter_orders(modified_after=modified_after, filters=filters)
        return [order for order in orders if meta_value(order.meta_data, key) == value]

    # --- batches ---------------------------------------------------------------------

    def _batch(
        self,
        resource: str,
        parser: Callable[[object], T],
        create: Sequence[Mapping[str, Any]],
        update: Sequence[Mapping[str, Any]],
        delete: Sequence[int],
        *,
        retry_sent: bool | None = None,
    ) -> BatchResult[T]:
        for item in update:
            if not isinstance(item.get("id"), int):
                raise ValueError("Every batch update item needs its integer 'id'.")
        operations: list[tuple[BatchAction, int, object]] = [
            *(("create", index, dict(item)) for index, item in enumerate(create)),
            *(("update", index, dict(item)) for index, item in enumerate(update)),
            *(("delete", index, int(object_id)) for index, object_id in enumerate(delete)),
        ]
        result: BatchResult[T] = BatchResult()
        targets: dict[BatchAction, list[BatchItemResult[T]]] = {
            "create": result.created,
            "update": result.updated,
            "delete": result.deleted,
        }
        for chunk in _chunks(operations, MAX_BATCH_ITEMS):
            body: dict[str, list[object]] = {}
            for action, _, payload in chunk:
                body.setdefault(action, []).append(payload)
            try:
                idempotent = ("create" not in body) if retry_sent is None else retry_sent
                response = self.request("POST", f"{resource}/batch", json=body, idempotent=idempotent)
            except WooCommerceError as exc:
                # Earlier chunks were applied; say how far the batch got.
                exc.details = {"batch_items_done": len(result.items()), "batch_items_total": len(operations)}
                raise
            result.calls += 1
            if not isinstance(response.data, Mapping):
                raise MalformedResponseError(f"WooCommerce batch /{resource}/batch answered without an object.")
            for action in ("create", "update", "delete"):
                sent = [(index, item) for a, index, item in chunk if a == action]
                answers = response.data.get(action) or []
                if len(answers) != len(sent):
                    raise MalformedResponseError(
                        f"WooCommerce batch /{resource}/batch answered {len(answers)} {action} results "
                        f"for {len(sent)} items."
                    )
                for (index, _), answer in zip(sent, answers, strict=True):
                    targets[action].append(_batch_item(action, index, answer, parser))
        return result


def _batch_item(action: BatchAction, index: int, answer: object, parser: Callable[[object], T]) -> BatchItemResult[T]:
    if not isinstance(answer, Mapping):
        raise MalformedResponseError(f"WooCommerce batch {action} result is {type(answer).__name__}, not an object.")
    raw_id = answer.get("id")
    object_id = raw_id if isinstance(raw_id, int) and raw_id > 0 else None
    if answer.get("error"):
        return BatchItemResult(
            action=action, index=index, object_id=object_id, result=None, error=parse_item_error(answer["error"])
        )
    return BatchItemResult(action=action, index=index, object_id=object_id, result=parser(answer), error=None)


def _chunks(items: Sequence[T], size: int) -> Iterable[Sequence[T]]:
    for start in range(0, len(items), size):
        yield items[start : start + size]


__all__ = [
    "MAX_BATCH_ITEMS",
    "MAX_PER_PAGE",
    "ApiResponse",
    "Page",
    "RetryPolicy",
    "Timeouts",
    "WooCommerceClient",
    "parse_retry_after",
]
