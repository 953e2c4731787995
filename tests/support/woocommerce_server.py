"""A local WooCommerce-compatible REST API v3 server for tests (loopback only).

It speaks the documented v3 shapes (templates in ``tests/data/woocommerce/``) for
products, variations, orders and customers, with pagination headers (``X-WP-Total``,
``X-WP-TotalPages``, ``Link``), ``modified_after``/``dates_are_gmt`` filtering,
``meta_data`` semantics and the batch endpoints (100 items at most, per-item errors).

Authentication is checked the way WooCommerce does it, independently of the client:
OAuth 1.0a over plain http, verified with oauthlib's signature functions (plus the
15-minute timestamp window and nonce replay check), HTTP Basic (or
``consumer_key``/``consumer_secret`` query parameters) over https. A read-only key
gets WooCommerce's "no write permissions" 401 on writes.

Tests script faults (``fail``: N answers with a status and optional ``Retry-After``;
``delay``: N slow answers), read every request received (``requests``) and seed
thousands of deterministic products (``seed_products``). The shop's local timezone is
UTC-3, so ``date_modified`` and ``date_modified_gmt`` differ as on a real shop.
"""

from __future__ import annotations

import base64
import copy
import hmac
import json
import re
import ssl
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from types import SimpleNamespace
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit

from oauthlib.oauth1.rfc5849 import signature as oauth_signature

DATA_DIR = Path(__file__).resolve().parents[1] / "data" / "woocommerce"
API_PREFIX = "/wp-json/wc/v3/"
SHOP_UTC_OFFSET = timedelta(hours=-3)
TIMESTAMP_WINDOW = 15 * 60  # seconds, as WooCommerce's check_oauth_timestamp_and_nonce
BATCH_LIMIT = 100

_ERRORS: dict[str, dict[str, Any]] = json.loads((DATA_DIR / "errors.json").read_text())


def load_template(name: str) -> dict[str, Any]:
    return json.loads((DATA_DIR / name).read_text())


def wc_error(name: str, **data: Any) -> dict[str, Any]:
    body = copy.deepcopy(_ERRORS[name])
    body["data"].update(data)
    return body


def _fmt(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S")


def _local(moment: datetime) -> str:
    return (moment.astimezone(UTC) + SHOP_UTC_OFFSET).strftime("%Y-%m-%dT%H:%M:%S")


def _parse_date(value: str) -> datetime:
    parsed = datetime.fromisoformat(value)
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


class ApiError(Exception):
    def __init__(self, status: int, body: dict[str, Any], headers: dict[str, str] | None = None) -> None:
        super().__init__(body.get("message"))
        self.status = status
        self.body = body
        self.headers = headers or {}


@dataclass
class RecordedRequest:
    method: str
    path: str  # below /wp-json/wc/v3/, e.g. "products/12"
    query: dict[str, list[str]]
    body: bytes
    headers: dict[str, str]
    at: float  # time.monotonic() on arrival
    status: int | None = None

    @property
    def json(self) -> Any:
        return json.loads(self.body) if self.body else None

    def param(self, name: str) -> str | None:
        values = self.query.get(name)
        return values[-1] if values else None


@dataclass
class Fault:
    status: int | None
    remaining: int
    retry_after: str | None = None
    delay: float = 0.0
    method: str | None = None
    path: str | None = None  # regex matched against the path below /wp-json/wc/v3/
    body: dict[str, Any] | None = None

    def matches(self, method: str, path: str) -> bool:
        if self.remaining <= 0:
            return False
        if self.method and self.method != method:
            return False
        return not (self.path and not re.fullmatch(self.path, path))


_DEFAULT_FAULT_BODIES: dict[int, dict[str, Any]] = {
    401: _ERRORS["cannot_view"],
    429: _ERRORS["too_many_requests"],
    500: {
        "code": "internal_server_error",
        "message": "There has been a critical error on this website.",
        "data": {"status": 500},
    },
    502: {"code": "bad_gateway", "message": "Bad gateway.", "data": {"status": 502}},
    503: {"code": "maintenance", "message": "Briefly unavailable for scheduled maintenance.", "data": {"status": 503}},
}


@dataclass
class _Collection:
    items: dict[int, dict[str, Any]] = field(default_factory=dict)


class WooCommerceServer:
    """Start with ``with WooCommerceServer() as shop:``; ``shop.url`` is the store URL."""

    def __init__(
        self,
        *,
        consumer_key: str = "ck_" + "a1" * 20,
        consumer_secret: str = "cs_" + "b2" * 20,
        read_only: bool = False,
        tls: ssl.SSLContext | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.consumer_key = consumer_key
        self.consumer_secret = consumer_secret
        self.read_only = read_only
        self._tls = tls
        self._clock = clock
        self._lock = threading.RLock()
        self._requests: list[RecordedRequest] = []
        self._faults: list[Fault] = []
        self._nonces: set[tuple[str, str, str]] = set()
        self._next_id = 100
        self._next_meta_id = 5000
        self.products: dict[int, dict[str, Any]] = {}
        self.variations: dict[int, dict[int, dict[str, Any]]] = {}
        self.orders: dict[int, dict[str, Any]] = {}
        self.customers: dict[int, dict[str, Any]] = {}
        self.webhooks: dict[int, dict[str, Any]] = {}
        self._templates = {
            "product": load_template("product.json"),
            "variation": load_template("variation.json"),
            "order": load_template("order.json"),
            "customer": load_template("customer.json"),
        }
        self._httpd: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None
        self.url = ""

    # --- lifecycle -------------------------------------------------------------------

    def start(self) -> WooCommerceServer:
        httpd = _HTTPServer(("127.0.0.1", 0), _Handler)
        httpd.shop = self
        if self._tls is not None:
            httpd.socket = self._tls.wrap_socket(httpd.socket, server_side=True)
        port = httpd.server_address[1]
        self.url = f"{'https' if self._tls else 'http'}://127.0.0.1:{port}"
        self._httpd = httpd
        self._thread = threading.Thread(target=httpd.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        if self._httpd is not None:
            self._httpd.shutdown()
            self._httpd.server_close()
            self._httpd = None
        if self._thread is not None:
            self._thread.join(timeout=5)
            self._thread = None

    def __enter__(self) -> WooCommerceServer:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    # --- scripting -------------------------------------------------------------------

    @property
    def requests(self) -> list[RecordedRequest]:
        with self._lock:
            return list(self._requests)

    def clear_requests(self) -> None:
        with self._lock:
            self._requests.clear()

    def fail(
        self,
        status: int,
        *,
        times: int = 1,
        retry_after: str | None = None,
        method: str | None = None,
        path: str | None = None,
        body: dict[str, Any] | None = None,
        delay: float = 0.0,
    ) -> None:
        """Answer the next ``times`` matching requests with ``status`` instead of serving them."""
        with self._lock:
            self._faults.append(Fault(status, times, retry_after, delay, method, path, body))

    def delay(self, seconds: float, *, times: int = 1, method: str | None = None, path: str | None = None) -> None:
        """Serve the next ``times`` matching requests normally, but only after ``seconds``."""
        with self._lock:
            self._faults.append(Fault(None, times, None, seconds, method, path))

    # --- data ------------------------------------------------------------------------

    def _new_id(self) -> int:
        self._next_id += 1
        return self._next_id

    def _meta_id(self) -> int:
        self._next_meta_id += 1
        return self._next_meta_id

    def _now(self) -> datetime:
        return datetime.fromtimestamp(int(self._clock()), UTC)

    def add_product(self, *, modified: datetime | None = None, **fields: Any) -> dict[str, Any]:
        with self._lock:
            product = copy.deepcopy(self._templates["product"])
            product_id = fields.pop("id", None) or self._new_id()
            product.update(id=product_id, sku=f"SKY-{product_id:06d}", meta_data=[], variations=[], images=[])
            self._apply_product(product, fields)
            self._stamp(product, created=modified, modified=modified)
            self.products[product_id] = product
            return product

    def seed_products(
        self, count: int, *, start: datetime | None = None, step: timedelta = timedelta(seconds=10)
    ) -> list[dict[str, Any]]:
        """``count`` deterministic products, each modified ``step`` after the previous one."""
        first = start or datetime(2024, 1, 1, tzinfo=UTC)
        made = []
        for n in range(count):
            cents = (n * 37) % 10000
            made.append(
                self.add_product(
                    name=f"DevSkyy Item {n:05d}",
                    regular_price=f"{10 + cents // 100}.{cents % 100:02d}",
                    sale_price="",
                    stock_quantity=n % 50,
                    manage_stock=True,
                    modified=first + step * n,
                )
            )
        return made

    def add_variation(self, product_id: int, **fields: Any) -> dict[str, Any]:
        with self._lock:
            variation = copy.deepcopy(self._templates["variation"])
            variation_id = self._new_id()
            variation.update(id=variation_id, sku=f"SKY-{product_id:06d}-{variation_id}", meta_data=[])
            self._apply_product(variation, fields)
            self._stamp(variation)
            self.variations.setdefault(product_id, {})[variation_id] = variation
            product = self.products[product_id]
            product["type"] = "variable"
            product["variations"] = sorted(self.variations[product_id])
            return variation

    def add_order(self, *, modified: datetime | None = None, **fields: Any) -> dict[str, Any]:
        with self._lock:
            order = copy.deepcopy(self._templates["order"])
            order_id = fields.pop("id", None) or self._new_id()
            order.update(id=order_id, number=str(order_id), meta_data=[])
            order.update(fields)
            self._stamp(order, created=modified, modified=modified)
            self.orders[order_id] = order
            return order

    def add_webhook(self, *, topic: str, status: str = "active", delivery_url: str = "") -> dict[str, Any]:
        """A webhook as GET /webhooks lists it (WooCommerce sets ``disabled`` after failures)."""
        with self._lock:
            webhook_id = self._new_id()
            now = self._now()
            webhook = {
                "id": webhook_id,
                "name": f"DevSkyy {topic}",
                "status": status,
                "topic": topic,
                "resource": topic.split(".")[0],
                "event": topic.split(".")[-1],
                "hooks": [],
                "delivery_url": delivery_url or "https://devskyy.example/api/v1/commerce/webhooks/woocommerce",
                "date_created": _local(now),
                "date_created_gmt": _fmt(now),
                "date_modified": _local(now),
                "date_modified_gmt": _fmt(now),
            }
            self.webhooks[webhook_id] = webhook
            return webhook

    def _webhooks(self, method: str, query: dict[str, str], payload: Any) -> tuple[int, Any, dict[str, str]]:
        if method != "GET":
            raise ApiError(404, wc_error("no_route"))
        return self._listing("webhooks", list(self.webhooks.values()), query, default_orderby="id")

    def add_customer(self, **fields: Any) -> dict[str, Any]:
        with self._lock:
            customer = copy.deepcopy(self._templates["customer"])
            customer_id = fields.pop("id", None) or self._new_id()
            customer.update(id=customer_id, email=f"customer{customer_id}@example.com", meta_data=[])
            customer.update(username=customer["email"].split("@")[0])
            customer.update(fields)
            self._stamp(customer)
            self.customers[customer_id] = customer
            return customer

    def _stamp(self, obj: dict[str, Any], *, created: datetime | None = None, modified: datetime | None = None) -> None:
        now = self._now()
        if created is not None or not obj.get("_stamped"):
            moment = created or now
            obj["date_created_gmt"], obj["date_created"] = _fmt(moment), _local(moment)
        moment = modified or now
        obj["date_modified_gmt"], obj["date_modified"] = _fmt(moment), _local(moment)
        obj["_stamped"] = True

    def _apply_meta(self, obj: dict[str, Any], entries: Any) -> None:
        if not isinstance(entries, list):
            raise ApiError(400, wc_error("invalid_param", params={"meta_data": "meta_data is not of type array."}))
        meta: list[dict[str, Any]] = obj.setdefault("meta_data", [])
        for entry in entries:
            if not isinstance(entry, dict) or "key" not in entry:
                raise ApiError(400, wc_error("invalid_param", params={"meta_data": "key is a required property."}))
            # WC_Data::update_meta_data: by id if given, else replace the first entry with that key.
            target = next((m for m in meta if "id" in entry and m["id"] == entry["id"]), None)
            target = target or next((m for m in meta if m["key"] == entry["key"]), None)
            if target is None:
                meta.append({"id": self._meta_id(), "key": entry["key"], "value": entry.get("value")})
            else:
                target.update(key=entry["key"], value=entry.get("value"))

    def _apply_product(self, product: dict[str, Any], fields: dict[str, Any]) -> None:
        for key, value in fields.items():
            if key == "meta_data":
                self._apply_meta(product, value)
            elif key in {"regular_price", "sale_price"}:
                if not isinstance(value, str):
                    raise ApiError(400, wc_error("invalid_param", params={key: f"{key} is not of type string."}))
                product[key] = value
            elif key == "categories":
                product[key] = [{"id": c["id"], "name": f"Category {c['id']}", "slug": f"cat-{c['id']}"} for c in value]
            elif key in {"id", "date_modified_gmt", "date_created_gmt"}:
                continue
            else:
                product[key] = value
        product["price"] = product.get("sale_price") or product.get("regular_price") or ""
        product["on_sale"] = bool(product.get("sale_price"))
        if product.get("manage_stock") and product.get("stock_quantity") is not None:
            product["stock_status"] = "instock" if product["stock_quantity"] > 0 else "outofstock"

    # --- request handling (called on the server's threads) -----------------------------

    def _record(self, request: RecordedRequest) -> None:
        with self._lock:
            self._requests.append(request)

    def _take_fault(self, method: str, path: str) -> Fault | None:
        with self._lock:
            for fault in self._faults:
                if fault.matches(method, path):
                    fault.remaining -= 1
                    return copy.copy(fault)
        return None

    def _authenticate(self, method: str, path: str, pairs: list[tuple[str, str]], headers: dict[str, str]) -> None:
        if self._tls is not None:
            self._check_basic(pairs, headers)
        else:
            self._check_oauth(method, path, pairs)
        if self.read_only and method not in {"GET", "HEAD"}:
            raise ApiError(401, wc_error("no_write_permission"))

    def _check_basic(self, pairs: list[tuple[str, str]], headers: dict[str, str]) -> None:
        query = dict(pairs)
        auth = headers.get("authorization", "")
        if auth.lower().startswith("basic "):
            user, _, password = base64.b64decode(auth[6:]).decode().partition(":")
        elif "consumer_key" in query:
            user, password = query["consumer_key"], query.get("consumer_secret", "")
        else:
            raise ApiError(401, wc_error("cannot_view"))
        if not hmac.compare_digest(user.encode(), self.consumer_key.encode()):
            raise ApiError(401, wc_error("invalid_consumer_key"))
        if not hmac.compare_digest(password.encode(), self.consumer_secret.encode()):
            raise ApiError(401, wc_error("invalid_consumer_secret"))

    def _check_oauth(self, method: str, path: str, pairs: list[tuple[str, str]]) -> None:
        params = dict(pairs)
        required = ("oauth_consumer_key", "oauth_timestamp", "oauth_nonce", "oauth_signature", "oauth_signature_method")
        if not all(params.get(name) for name in required):
            raise ApiError(401, wc_error("cannot_view"))
        if params["oauth_consumer_key"] != self.consumer_key:
            raise ApiError(401, wc_error("invalid_consumer_key"))
        signed = [(k, v) for k, v in pairs if k != "oauth_signature"]
        uri = oauth_signature.base_string_uri(f"{self.url}{API_PREFIX}{path}")
        # Repeated keys are legal in OAuth, so oauthlib takes (key, value) pairs; its stubs say dict.
        normalized = oauth_signature.normalize_parameters(signed)  # type: ignore[arg-type]
        base = oauth_signature.signature_base_string(method, uri, normalized)  # type: ignore[arg-type]
        signer = SimpleNamespace(client_secret=self.consumer_secret, resource_owner_secret="")
        if params["oauth_signature_method"] == "HMAC-SHA256":
            expected = oauth_signature.sign_hmac_sha256_with_client(base, signer)
        elif params["oauth_signature_method"] == "HMAC-SHA1":
            expected = oauth_signature.sign_hmac_sha1_with_client(base, signer)
        else:
            body = wc_error("invalid_signature")
            body["message"] = "Invalid signature - signature method is invalid."
            raise ApiError(401, body)
        if not hmac.compare_digest(expected.encode(), params["oauth_signature"].replace(" ", "+").encode()):
            raise ApiError(401, wc_error("invalid_signature"))
        timestamp = int(params["oauth_timestamp"]) if params["oauth_timestamp"].isdigit() else 0
        if abs(self._clock() - timestamp) > TIMESTAMP_WINDOW:
            raise ApiError(401, wc_error("invalid_timestamp"))
        nonce = (params["oauth_consumer_key"], params["oauth_timestamp"], params["oauth_nonce"])
        with self._lock:
            if nonce in self._nonces:
                raise ApiError(401, wc_error("nonce_used"))
            self._nonces.add(nonce)

    def handle(self, method: str, path: str, pairs: list[tuple[str, str]], body: bytes, headers: dict[str, str]):
        """Returns (status, body, headers) or raises ApiError."""
        self._authenticate(method, path, pairs, headers)
        query = dict(pairs)
        payload: Any = None
        if body:
            try:
                payload = json.loads(body)
            except ValueError:
                raise ApiError(
                    400, {"code": "rest_invalid_json", "message": "Invalid JSON body passed.", "data": {"status": 400}}
                ) from None
        for pattern, handler_name in _ROUTES:
            match = re.fullmatch(pattern, path)
            if match:
                handler = getattr(self, handler_name)
                with self._lock:
                    return handler(method, query, payload, *[int(g) for g in match.groups()])
        raise ApiError(404, wc_error("no_route"))

    # --- listing ---------------------------------------------------------------------

    def _listing(
        self, resource: str, items: list[dict[str, Any]], query: dict[str, str], *, default_orderby: str = "date"
    ) -> tuple[int, Any, dict[str, str]]:
        try:
            per_page = int(query.get("per_page", "10"))
            page = int(query.get("page", "1"))
        except ValueError:
            raise ApiError(400, wc_error("invalid_param")) from None
        if not 1 <= per_page <= 100:
            raise ApiError(400, wc_error("invalid_param"))
        if page < 1:
            raise ApiError(400, wc_error("invalid_param", params={"page": "page must be greater than or equal to 1"}))
        gmt = query.get("dates_are_gmt") in {"true", "1"}
        if "modified_after" in query:
            column = "date_modified_gmt" if gmt else "date_modified"
            # WooCommerce reads a local-time filter in the shop's zone when dates_are_gmt is false.
            after = _parse_date(query["modified_after"]).replace(tzinfo=None)
            items = [i for i in items if datetime.fromisoformat(i[column]) > after]
        if "sku" in query:
            skus = set(query["sku"].split(","))
            items = [i for i in items if i.get("sku") in skus]
        if "include" in query:
            ids = {int(v) for v in query["include"].split(",") if v}
            items = [i for i in items if i["id"] in ids]
        if "status" in query and query["status"] != "any":
            statuses = set(query["status"].split(","))
            items = [i for i in items if i.get("status") in statuses]
        if "email" in query:
            items = [i for i in items if i.get("email") == query["email"]]
        if "search" in query:
            needle = query["search"].lower()
            items = [i for i in items if needle in str(i.get("name", i.get("email", ""))).lower()]
        orderby = query.get("orderby", default_orderby)
        descending = query.get("order", "desc") == "desc"
        keys: dict[str, Callable[[dict[str, Any]], Any]] = {
            "id": lambda i: i["id"],
            "date": lambda i: (i.get("date_created_gmt", ""), i["id"]),
            "modified": lambda i: (i.get("date_modified_gmt", ""), i["id"]),
        }
        items = sorted(items, key=keys.get(orderby, keys["id"]), reverse=descending)
        total = len(items)
        total_pages = (total + per_page - 1) // per_page
        chunk = items[(page - 1) * per_page : page * per_page]
        headers = {"X-WP-Total": str(total), "X-WP-TotalPages": str(total_pages)}
        links = []
        visible = [(k, v) for k, v in query.items() if not k.startswith("oauth_") and k != "page"]
        base = f"{self.url}{API_PREFIX}{resource}"
        if page > 1:
            links.append(f'<{base}?{urlencode([*visible, ("page", str(page - 1))])}>; rel="prev"')
        if page < total_pages:
            links.append(f'<{base}?{urlencode([*visible, ("page", str(page + 1))])}>; rel="next"')
        if links:
            headers["Link"] = ", ".join(links)
        return 200, [self._public(i) for i in chunk], headers

    @staticmethod
    def _public(obj: dict[str, Any]) -> dict[str, Any]:
        return {k: v for k, v in obj.items() if not k.startswith("_") or k == "_links"}

    # --- products --------------------------------------------------------------------

    def _products(self, method: str, query: dict[str, str], payload: Any) -> tuple[int, Any, dict[str, str]]:
        if method == "GET":
            return self._listing("products", list(self.products.values()), query)
        if method == "POST":
            return 201, self._public(self._create_product(payload or {})), {}
        raise ApiError(404, wc_error("no_route"))

    def _create_product(self, payload: dict[str, Any]) -> dict[str, Any]:
        sku = payload.get("sku")
        if sku and any(p.get("sku") == sku for p in self.products.values()):
            raise ApiError(400, wc_error("product_invalid_sku"))
        product = copy.deepcopy(self._templates["product"])
        product_id = self._new_id()
        product.update(id=product_id, sku="", meta_data=[], variations=[], images=[], categories=[], name="Product")
        self._apply_product(product, payload)
        self._stamp(product)
        self.products[product_id] = product
        return product

    def _update_product(self, product_id: int, payload: dict[str, Any]) -> dict[str, Any]:
        product = self.products.get(product_id)
        if product is None:
            raise ApiError(404, wc_error("product_invalid_id"))
        sku = payload.get("sku")
        if sku and any(p.get("sku") == sku and pid != product_id for pid, p in self.products.items()):
            raise ApiError(400, wc_error("product_invalid_sku"))
        self._apply_product(product, payload)
        self._stamp(product)
        return product

    def _product(
        self, method: str, query: dict[str, str], payload: Any, product_id: int
    ) -> tuple[int, Any, dict[str, str]]:
        if method == "GET":
            product = self.products.get(product_id)
            if product is None:
                raise ApiError(404, wc_error("product_invalid_id"))
            return 200, self._public(product), {}
        if method in {"PUT", "POST", "PATCH"}:
            return 200, self._public(self._update_product(product_id, payload or {})), {}
        if method == "DELETE":
            return 200, self._public(self._delete_product(product_id, force=query.get("force") == "true")), {}
        raise ApiError(404, wc_error("no_route"))

    def _delete_product(self, product_id: int, *, force: bool) -> dict[str, Any]:
        product = self.products.get(product_id)
        if product is None:
            raise ApiError(404, wc_error("product_invalid_id"))
        if force:
            del self.products[product_id]
        else:
            product["status"] = "trash"
            self._stamp(product)
        return product

    def _variations(
        self, method: str, query: dict[str, str], payload: Any, product_id: int
    ) -> tuple[int, Any, dict[str, str]]:
        if product_id not in self.products:
            raise ApiError(404, wc_error("product_invalid_id"))
        if method != "GET":
            raise ApiError(404, wc_error("no_route"))
        items = list(self.variations.get(product_id, {}).values())
        return self._listing(f"products/{product_id}/variations", items, query)

    def _batch(
        self,
        payload: Any,
        create: Callable[[dict[str, Any]], dict[str, Any]],
        update: Callable[[int, dict[str, Any]], dict[str, Any]],
        delete: Callable[[int], dict[str, Any]],
    ) -> tuple[int, Any, dict[str, str]]:
        payload = payload or {}
        total = sum(len(payload.get(action) or []) for action in ("create", "update", "delete"))
        if total > BATCH_LIMIT:
            raise ApiError(413, wc_error("batch_too_large"))
        answer: dict[str, list[dict[str, Any]]] = {}
        for action in ("create", "update", "delete"):
            if action not in payload:
                continue
            results = answer.setdefault(action, [])
            for item in payload[action]:
                try:
                    if action == "create":
                        results.append(self._public(create(item)))
                    elif action == "update":
                        results.append(self._public(update(int(item["id"]), item)))
                    else:
                        results.append(self._public(delete(int(item))))
                except ApiError as exc:
                    object_id = item.get("id", 0) if isinstance(item, dict) else int(item)
                    results.append({"id": object_id if action != "create" else 0, "error": exc.body})
        return 200, answer, {}

    def _products_batch(self, method: str, query: dict[str, str], payload: Any) -> tuple[int, Any, dict[str, str]]:
        if method not in {"POST", "PUT", "PATCH"}:
            raise ApiError(404, wc_error("no_route"))
        return self._batch(
            payload, self._create_product, self._update_product, lambda pid: self._delete_product(pid, force=True)
        )

    # --- orders ----------------------------------------------------------------------

    def _orders(self, method: str, query: dict[str, str], payload: Any) -> tuple[int, Any, dict[str, str]]:
        if method == "GET":
            return self._listing("orders", list(self.orders.values()), query)
        if method == "POST":
            return 201, self._public(self._create_order(payload or {})), {}
        raise ApiError(404, wc_error("no_route"))

    def _create_order(self, payload: dict[str, Any]) -> dict[str, Any]:
        order = copy.deepcopy(self._templates["order"])
        order_id = self._new_id()
        order.update(id=order_id, number=str(order_id), meta_data=[], status="pending")
        self._update_order_fields(order, payload)
        self._stamp(order)
        self.orders[order_id] = order
        return order

    def _update_order_fields(self, order: dict[str, Any], payload: dict[str, Any]) -> None:
        statuses = {"pending", "processing", "on-hold", "completed", "cancelled", "refunded", "failed", "trash"}
        for key, value in payload.items():
            if key == "meta_data":
                self._apply_meta(order, value)
            elif key == "status" and value not in statuses:
                raise ApiError(
                    400,
                    wc_error(
                        "invalid_param", params={"status": f"status is not one of {', '.join(sorted(statuses))}."}
                    ),
                )
            elif key != "id":
                order[key] = value

    def _update_order(self, order_id: int, payload: dict[str, Any]) -> dict[str, Any]:
        order = self.orders.get(order_id)
        if order is None:
            raise ApiError(404, wc_error("order_invalid_id"))
        self._update_order_fields(order, payload)
        self._stamp(order)
        return order

    def _delete_order(self, order_id: int) -> dict[str, Any]:
        order = self.orders.pop(order_id, None)
        if order is None:
            raise ApiError(404, wc_error("order_invalid_id"))
        return order

    def _order(
        self, method: str, query: dict[str, str], payload: Any, order_id: int
    ) -> tuple[int, Any, dict[str, str]]:
        if method == "GET":
            order = self.orders.get(order_id)
            if order is None:
                raise ApiError(404, wc_error("order_invalid_id"))
            return 200, self._public(order), {}
        if method in {"PUT", "POST", "PATCH"}:
            return 200, self._public(self._update_order(order_id, payload or {})), {}
        raise ApiError(404, wc_error("no_route"))

    def _orders_batch(self, method: str, query: dict[str, str], payload: Any) -> tuple[int, Any, dict[str, str]]:
        return self._batch(payload, self._create_order, self._update_order, self._delete_order)

    # --- customers -------------------------------------------------------------------

    def _customers(self, method: str, query: dict[str, str], payload: Any) -> tuple[int, Any, dict[str, str]]:
        if method == "GET":
            query = {"role": "customer", **query}
            items = [c for c in self.customers.values() if query["role"] == "all" or c.get("role") == query["role"]]
            return self._listing(
                "customers", items, {**query, "orderby": query.get("orderby", "id")}, default_orderby="id"
            )
        if method == "POST":
            return 201, self._public(self._create_customer(payload or {})), {}
        raise ApiError(404, wc_error("no_route"))

    def _create_customer(self, payload: dict[str, Any]) -> dict[str, Any]:
        email = payload.get("email")
        if not email:
            raise ApiError(
                400,
                {
                    "code": "rest_missing_callback_param",
                    "message": "Missing parameter(s): email",
                    "data": {"status": 400},
                },
            )
        if any(c["email"] == email for c in self.customers.values()):
            raise ApiError(
                400,
                {
                    "code": "registration-error-email-exists",
                    "message": "An account is already registered with your email address.",
                    "data": {"status": 400},
                },
            )
        customer = copy.deepcopy(self._templates["customer"])
        customer_id = self._new_id()
        customer.update(id=customer_id, meta_data=[], username=email.split("@")[0], email=email)
        self._update_customer_fields(customer, payload)
        self._stamp(customer)
        self.customers[customer_id] = customer
        return customer

    def _update_customer_fields(self, customer: dict[str, Any], payload: dict[str, Any]) -> None:
        for key, value in payload.items():
            if key == "meta_data":
                self._apply_meta(customer, value)
            elif key != "id":
                customer[key] = value

    def _update_customer(self, customer_id: int, payload: dict[str, Any]) -> dict[str, Any]:
        customer = self.customers.get(customer_id)
        if customer is None:
            raise ApiError(404, wc_error("customer_invalid_id"))
        self._update_customer_fields(customer, payload)
        self._stamp(customer)
        return customer

    def _delete_customer(self, customer_id: int) -> dict[str, Any]:
        customer = self.customers.pop(customer_id, None)
        if customer is None:
            raise ApiError(404, wc_error("customer_invalid_id"))
        return customer

    def _customer(
        self, method: str, query: dict[str, str], payload: Any, customer_id: int
    ) -> tuple[int, Any, dict[str, str]]:
        if method == "GET":
            customer = self.customers.get(customer_id)
            if customer is None:
                raise ApiError(404, wc_error("customer_invalid_id"))
            return 200, self._public(customer), {}
        if method in {"PUT", "POST", "PATCH"}:
            return 200, self._public(self._update_customer(customer_id, payload or {})), {}
        raise ApiError(404, wc_error("no_route"))

    def _customers_batch(self, method: str, query: dict[str, str], payload: Any) -> tuple[int, Any, dict[str, str]]:
        return self._batch(payload, self._create_customer, self._update_customer, self._delete_customer)


_ROUTES = (
    (r"products", "_products"),
    (r"products/batch", "_products_batch"),
    (r"products/(\d+)", "_product"),
    (r"products/(\d+)/variations", "_variations"),
    (r"orders", "_orders"),
    (r"orders/batch", "_orders_batch"),
    (r"orders/(\d+)", "_order"),
    (r"customers", "_customers"),
    (r"customers/batch", "_customers_batch"),
    (r"customers/(\d+)", "_customer"),
    (r"webhooks", "_webhooks"),
)


class _HTTPServer(ThreadingHTTPServer):
    daemon_threads = True
    block_on_close = False
    shop: WooCommerceServer

    def handle_error(self, request: Any, client_address: Any) -> None:
        # Clients that time out close their socket mid-answer; that is expected here.
        pass


class _Handler(BaseHTTPRequestHandler):
    server: _HTTPServer
    protocol_version = "HTTP/1.1"
    timeout = 30

    def log_message(self, format: str, *args: Any) -> None:
        pass

    def _serve(self) -> None:
        shop = self.server.shop
        parts = urlsplit(self.path)
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else b""
        pairs = parse_qsl(parts.query, keep_blank_values=True)
        path = parts.path[len(API_PREFIX) :] if parts.path.startswith(API_PREFIX) else parts.path
        query: dict[str, list[str]] = {}
        for key, value in pairs:
            query.setdefault(key, []).append(value)
        headers = {k.lower(): v for k, v in self.headers.items()}
        record = RecordedRequest(self.command, path, query, body, headers, time.monotonic())
        shop._record(record)

        status: int
        answer: Any
        extra: dict[str, str] = {}
        fault = shop._take_fault(self.command, path)
        if fault is not None and fault.delay:
            time.sleep(fault.delay)
        if fault is not None and fault.status is not None:
            status = fault.status
            answer = fault.body or _DEFAULT_FAULT_BODIES.get(
                status, {"code": "error", "message": "Error.", "data": {"status": status}}
            )
            if fault.retry_after is not None:
                extra["Retry-After"] = fault.retry_after
        elif not parts.path.startswith(API_PREFIX):
            status, answer = 404, wc_error("no_route")
        else:
            try:
                status, answer, extra = shop.handle(self.command, path, pairs, body, headers)
            except ApiError as exc:
                status, answer, extra = exc.status, exc.body, exc.headers
        record.status = status
        data = json.dumps(answer, default=_json_default).encode()
        try:
            self.send_response(status)
            self.send_header("Content-Type", "application/json; charset=UTF-8")
            self.send_header("Content-Length", str(len(data)))
            for name, value in extra.items():
                self.send_header(name, value)
            self.end_headers()
            self.wfile.write(data)
        except (BrokenPipeError, ConnectionResetError):
            self.close_connection = True

    do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = _serve  # noqa: N815 - http.server's names


def _json_default(value: object) -> object:
    if isinstance(value, Decimal):
        return str(value)
    raise TypeError(type(value).__name__)


def iter_pages(shop: WooCommerceServer, resource: str) -> Iterator[RecordedRequest]:
    """The GET requests the shop received for one collection, in order."""
    return (r for r in shop.requests if r.method == "GET" and r.path == resource)
