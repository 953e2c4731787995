"""Typed views of the WooCommerce v3 objects DevSkyy uses, and their parsers.

Money is ``Decimal`` throughout: response bodies are decoded with
``parse_float=Decimal`` (line-item ``price`` is a JSON number in v3) and string
amounts (``"21.99"``) are converted exactly; a float never appears. WooCommerce
reports ``*_gmt`` dates without an offset; they are UTC and become aware datetimes.

Each parsed object keeps the full decoded body in ``raw`` for fields not modelled here.
Writes take plain mappings (see ``ProductWrite``): ``Decimal`` values are sent as
strings, as WooCommerce expects for prices.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from decimal import Decimal, InvalidOperation
from typing import Any, Generic, Literal, NotRequired, TypedDict, TypeVar

from .errors import MalformedResponseError


class MetaWrite(TypedDict):
    key: str
    value: Any
    id: NotRequired[int]


class ProductWrite(TypedDict, total=False):
    """Fields DevSkyy writes to products (any other v3 field may be passed as well)."""

    name: str
    sku: str
    type: str
    status: str
    description: str
    short_description: str
    regular_price: Decimal | str
    sale_price: Decimal | str
    manage_stock: bool
    stock_quantity: int | None
    stock_status: str
    categories: list[dict[str, int]]
    images: list[dict[str, Any]]
    meta_data: list[MetaWrite]


class OrderWrite(TypedDict, total=False):
    status: str
    customer_note: str
    meta_data: list[MetaWrite]


# --- value parsers -------------------------------------------------------------------


def parse_money(value: object, *, field_name: str = "amount") -> Decimal | None:
    """``"21.99"``, ``21.99`` (already a Decimal), ``3`` -> Decimal; ``""``/``None`` -> None."""
    if value is None or value == "":
        return None
    if isinstance(value, bool | float):
        raise MalformedResponseError(f"WooCommerce sent {field_name} as {type(value).__name__}, not an exact amount.")
    if isinstance(value, Decimal):
        amount = value
    elif isinstance(value, int | str):
        try:
            amount = Decimal(str(value).strip())
        except InvalidOperation:
            raise MalformedResponseError(f"WooCommerce sent an invalid {field_name}: {value!r}.") from None
    else:
        raise MalformedResponseError(f"WooCommerce sent {field_name} of type {type(value).__name__}.")
    if not amount.is_finite():
        raise MalformedResponseError(f"WooCommerce sent a non-finite {field_name}.")
    return amount


def parse_gmt(value: object) -> datetime | None:
    """``"2024-05-01T10:20:30"`` (UTC, no offset) -> aware datetime; offsets are honoured."""
    if value is None or value == "":
        return None
    if not isinstance(value, str):
        raise MalformedResponseError(f"WooCommerce sent a date of type {type(value).__name__}.")
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError:
        raise MalformedResponseError(f"WooCommerce sent an invalid date: {value!r}.") from None
    if parsed.tzinfo is None:
        return parsed.replace(tzinfo=UTC)
    return parsed.astimezone(UTC)


def format_gmt(moment: datetime) -> str:
    """An aware datetime as WooCommerce's GMT query format (use with ``dates_are_gmt=true``)."""
    if moment.tzinfo is None or moment.utcoffset() is None:
        raise ValueError("WooCommerce date filters need a timezone-aware datetime.")
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S")


def format_money(amount: Decimal) -> str:
    """A Decimal as the plain string WooCommerce stores (``Decimal("21.9")`` -> ``"21.9"``)."""
    if not amount.is_finite():
        raise ValueError("Cannot send a non-finite amount to WooCommerce.")
    return format(amount, "f")


def decode_json(content: bytes) -> Any:
    """Decode a response body with every JSON fraction as Decimal."""
    return json.loads(content, parse_float=Decimal)


def _json_default(value: object) -> object:
    if isinstance(value, Decimal):
        return format_money(value)
    if isinstance(value, datetime):
        return format_gmt(value)
    raise TypeError(f"Cannot send {type(value).__name__} to WooCommerce.")


def encode_json(payload: object) -> bytes:
    return json.dumps(payload, default=_json_default, separators=(",", ":"), ensure_ascii=False).encode()


# --- helpers over raw dicts ----------------------------------------------------------


def _obj(value: object, what: str) -> Mapping[str, Any]:
    if not isinstance(value, Mapping):
        raise MalformedResponseError(f"WooCommerce sent a {type(value).__name__} where a {what} object belongs.")
    return value


def _int(data: Mapping[str, Any], key: str, default: int | None = None) -> int:
    value = data.get(key, default)
    if isinstance(value, bool) or value is None:
        raise MalformedResponseError(f"WooCommerce sent no integer {key}.")
    if isinstance(value, int):
        return value
    if isinstance(value, str | Decimal):
        try:
            return int(str(value))
        except ValueError:
            pass
    raise MalformedResponseError(f"WooCommerce sent a non-integer {key}: {value!r}.")


def _opt_int(data: Mapping[str, Any], key: str) -> int | None:
    if data.get(key) in (None, ""):
        return None
    return _int(data, key)


def _str(data: Mapping[str, Any], key: str) -> str:
    value = data.get(key)
    if value is None:
        return ""
    return value if isinstance(value, str) else str(value)


def _list(data: Mapping[str, Any], key: str) -> Sequence[Any]:
    value = data.get(key) or []
    if not isinstance(value, list):
        raise MalformedResponseError(f"WooCommerce sent {key} as {type(value).__name__}, not a list.")
    return value


# --- typed objects -------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class MetaData:
    id: int | None
    key: str
    value: Any


@dataclass(frozen=True, slots=True)
class Category:
    id: int
    name: str
    slug: str


@dataclass(frozen=True, slots=True)
class Image:
    id: int
    src: str
    name: str
    alt: str


def _meta(data: Mapping[str, Any]) -> tuple[MetaData, ...]:
    items = []
    for entry in _list(data, "meta_data"):
        meta = _obj(entry, "meta_data")
        items.append(MetaData(id=_opt_int(meta, "id"), key=_str(meta, "key"), value=meta.get("value")))
    return tuple(items)


def meta_value(meta_data: Sequence[MetaData], key: str) -> Any:
    """The value of the last meta entry named ``key`` (WooCommerce allows repeats), or None."""
    found: Any = None
    for entry in meta_data:
        if entry.key == key:
            found = entry.value
    return found


@dataclass(frozen=True, slots=True)
class Product:
    id: int
    sku: str
    name: str
    type: str
    status: str
    description: str
    short_description: str
    price: Decimal | None
    regular_price: Decimal | None
    sale_price: Decimal | None
    manage_stock: bool
    stock_quantity: int | None
    stock_status: str
    categories: tuple[Category, ...]
    images: tuple[Image, ...]
    meta_data: tuple[MetaData, ...]
    variations: tuple[int, ...]
    date_created_gmt: datetime | None
    date_modified_gmt: datetime | None
    raw: Mapping[str, Any] = field(repr=False, compare=False)

    def meta(self, key: str) -> Any:
        return meta_value(self.meta_data, key)


@dataclass(frozen=True, slots=True)
class VariationAttribute:
    name: str
    option: str


@dataclass(frozen=True, slots=True)
class Variation:
    id: int
    product_id: int
    sku: str
    status: str
    price: Decimal | None
    regular_price: Decimal | None
    sale_price: Decimal | None
    manage_stock: bool
    stock_quantity: int | None
    stock_status: str
    attributes: tuple[VariationAttribute, ...]
    meta_data: tuple[MetaData, ...]
    date_modified_gmt: datetime | None
    raw: Mapping[str, Any] = field(repr=False, compare=False)

    def meta(self, key: str) -> Any:
        return meta_value(self.meta_data, key)


@dataclass(frozen=True, slots=True)
class LineItem:
    id: int
    product_id: int
    variation_id: int | None
    sku: str
    name: str
    quantity: int
    price: Decimal
    subtotal: Decimal
    total: Decimal


@dataclass(frozen=True, slots=True)
class Order:
    id: int
    number: str
    status: str
    currency: str
    total: Decimal
    total_tax: Decimal
    shipping_total: Decimal
    discount_total: Decimal
    customer_id: int | None
    billing_email: str
    line_items: tuple[LineItem, ...]
    meta_data: tuple[MetaData, ...]
    date_created_gmt: datetime | None
    date_modified_gmt: datetime | None
    date_paid_gmt: datetime | None
    raw: Mapping[str, Any] = field(repr=False, compare=False)

    def meta(self, key: str) -> Any:
        return meta_value(self.meta_data, key)


@dataclass(frozen=True, slots=True)
class Customer:
    id: int
    email: str
    first_name: str
    last_name: str
    username: str
    role: str
    is_paying_customer: bool
    billing: Mapping[str, Any]
    shipping: Mapping[str, Any]
    meta_data: tuple[MetaData, ...]
    date_created_gmt: datetime | None
    date_modified_gmt: datetime | None
    raw: Mapping[str, Any] = field(repr=False, compare=False)

    def meta(self, key: str) -> Any:
        return meta_value(self.meta_data, key)


def _stock(data: Mapping[str, Any]) -> int | None:
    return _opt_int(data, "stock_quantity")


def parse_product(value: object) -> Product:
    data = _obj(value, "product")
    return Product(
        id=_int(data, "id"),
        sku=_str(data, "sku"),
        name=_str(data, "name"),
        type=_str(data, "type"),
        status=_str(data, "status"),
        description=_str(data, "description"),
        short_description=_str(data, "short_description"),
        price=parse_money(data.get("price"), field_name="price"),
        regular_price=parse_money(data.get("regular_price"), field_name="regular_price"),
        sale_price=parse_money(data.get("sale_price"), field_name="sale_price"),
        manage_stock=data.get("manage_stock") is True,
        stock_quantity=_stock(data),
        stock_status=_str(data, "stock_status"),
        categories=tuple(
            Category(id=_int(c, "id"), name=_str(c, "name"), slug=_str(c, "slug"))
            for c in (_obj(item, "category") for item in _list(data, "categories"))
        ),
        images=tuple(
            Image(id=_int(i, "id", 0), src=_str(i, "src"), name=_str(i, "name"), alt=_str(i, "alt"))
            for i in (_obj(item, "image") for item in _list(data, "images"))
        ),
        meta_data=_meta(data),
        variations=tuple(int(v) for v in _list(data, "variations")),
        date_created_gmt=parse_gmt(data.get("date_created_gmt")),
        date_modified_gmt=parse_gmt(data.get("date_modified_gmt")),
        raw=data,
    )


def parse_variation(value: object, *, product_id: int) -> Variation:
    data = _obj(value, "variation")
    return Variation(
        id=_int(data, "id"),
        product_id=_opt_int(data, "parent_id") or product_id,
        sku=_str(data, "sku"),
        status=_str(data, "status"),
        price=parse_money(data.get("price"), field_name="price"),
        regular_price=parse_money(data.get("regular_price"), field_name="regular_price"),
        sale_price=parse_money(data.get("sale_price"), field_name="sale_price"),
        manage_stock=data.get("manage_stock") is True,
        stock_quantity=_stock(data),
        stock_status=_str(data, "stock_status"),
        attributes=tuple(
            VariationAttribute(name=_str(a, "name"), option=_str(a, "option"))
            for a in (_obj(item, "attribute") for item in _list(data, "attributes"))
        ),
        meta_data=_meta(data),
        date_modified_gmt=parse_gmt(data.get("date_modified_gmt")),
        raw=data,
    )


def _required_money(data: Mapping[str, Any], key: str) -> Decimal:
    amount = parse_money(data.get(key), field_name=key)
    return Decimal("0") if amount is None else amount


def parse_line_item(value: object) -> LineItem:
    data = _obj(value, "line item")
    return LineItem(
        id=_int(data, "id"),
        product_id=_int(data, "product_id", 0),
        variation_id=_opt_int(data, "variation_id") or None,
        sku=_str(data, "sku"),
        name=_str(data, "name"),
        quantity=_int(data, "quantity"),
        price=_required_money(data, "price"),
        subtotal=_required_money(data, "subtotal"),
        total=_required_money(data, "total"),
    )


def parse_order(value: object) -> Order:
    data = _obj(value, "order")
    billing = data.get("billing") or {}
    return Order(
        id=_int(data, "id"),
        number=_str(data, "number"),
        status=_str(data, "status"),
        currency=_str(data, "currency"),
        total=_required_money(data, "total"),
        total_tax=_required_money(data, "total_tax"),
        shipping_total=_required_money(data, "shipping_total"),
        discount_total=_required_money(data, "discount_total"),
        customer_id=_opt_int(data, "customer_id") or None,  # 0 means a guest order
        billing_email=_str(_obj(billing, "billing"), "email"),
        line_items=tuple(parse_line_item(item) for item in _list(data, "line_items")),
        meta_data=_meta(data),
        date_created_gmt=parse_gmt(data.get("date_created_gmt")),
        date_modified_gmt=parse_gmt(data.get("date_modified_gmt")),
        date_paid_gmt=parse_gmt(data.get("date_paid_gmt")),
        raw=data,
    )


def parse_customer(value: object) -> Customer:
    data = _obj(value, "customer")
    return Customer(
        id=_int(data, "id"),
        email=_str(data, "email"),
        first_name=_str(data, "first_name"),
        last_name=_str(data, "last_name"),
        username=_str(data, "username"),
        role=_str(data, "role"),
        is_paying_customer=data.get("is_paying_customer") is True,
        billing=_obj(data.get("billing") or {}, "billing"),
        shipping=_obj(data.get("shipping") or {}, "shipping"),
        meta_data=_meta(data),
        date_created_gmt=parse_gmt(data.get("date_created_gmt")),
        date_modified_gmt=parse_gmt(data.get("date_modified_gmt")),
        raw=data,
    )


@dataclass(frozen=True, slots=True)
class Webhook:
    id: int
    name: str
    status: str
    topic: str
    delivery_url: str
    date_modified_gmt: datetime | None


def parse_webhook(value: object) -> Webhook:
    data = _obj(value, "webhook")
    return Webhook(
        id=_int(data, "id"),
        name=_str(data, "name"),
        status=_str(data, "status"),
        topic=_str(data, "topic"),
        delivery_url=_str(data, "delivery_url"),
        date_modified_gmt=parse_gmt(data.get("date_modified_gmt")),
    )


BatchAction = Literal["create", "update", "delete"]
T = TypeVar("T")


@dataclass(frozen=True, slots=True)
class ItemError:
    """A per-item error inside a batch response (WooCommerce's ``code``/``message``)."""

    code: str
    message: str
    status: int | None


@dataclass(frozen=True, slots=True)
class BatchItemResult(Generic[T]):
    """One input item of a batch: ``index`` is its position in the caller's list for ``action``."""

    action: BatchAction
    index: int
    object_id: int | None
    result: T | None
    error: ItemError | None

    @property
    def ok(self) -> bool:
        return self.error is None


@dataclass(slots=True)
class BatchResult(Generic[T]):
    created: list[BatchItemResult[T]] = field(default_factory=list)
    updated: list[BatchItemResult[T]] = field(default_factory=list)
    deleted: list[BatchItemResult[T]] = field(default_factory=list)
    calls: int = 0

    def items(self) -> list[BatchItemResult[T]]:
        return [*self.created, *self.updated, *self.deleted]

    @property
    def errors(self) -> list[BatchItemResult[T]]:
        return [item for item in self.items() if item.error is not None]


def parse_item_error(value: object) -> ItemError:
    data = _obj(value, "error")
    status_data = data.get("data")
    status = None
    if isinstance(status_data, Mapping) and isinstance(status_data.get("status"), int):
        status = int(status_data["status"])
    return ItemError(code=_str(data, "code"), message=_str(data, "message"), status=status)
