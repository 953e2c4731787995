"""The WooCommerce client against a local WooCommerce-compatible shop over loopback.

Nothing of the client is mocked: every test sends real HTTP to
``tests.support.woocommerce_server``, which checks signatures with oauthlib and
records what it received.
"""

from __future__ import annotations

import logging
import ssl
import time
from datetime import UTC, datetime, timedelta, timezone
from decimal import Decimal
from email.utils import format_datetime

import pytest
import trustme
from prometheus_client import REGISTRY

from commerce_app.woocommerce import (
    IDEMPOTENCY_META_KEY,
    AuthenticationError,
    ConfigurationError,
    MalformedResponseError,
    ObjectNotFoundError,
    PermanentError,
    RetryPolicy,
    Timeouts,
    TransientError,
    WooCommerceClient,
)
from commerce_app.woocommerce.client import parse_retry_after
from commerce_app.woocommerce.payloads import decode_json, parse_money
from tests.commerce_app.conftest import client_for
from tests.support.servers import closed_port
from tests.support.woocommerce_server import WooCommerceServer, iter_pages


def api_calls(method: str, outcome: str) -> float:
    value = REGISTRY.get_sample_value("woocommerce_api_calls_total", {"method": method, "outcome": outcome})
    return value or 0.0


# --- authentication ------------------------------------------------------------------


def test_requests_over_loopback_http_are_signed_with_oauth_and_the_shop_accepts_them(shop, client):
    made = shop.add_product(name="Signed Hoodie")

    product = client.get_product(made["id"])

    assert product.name == "Signed Hoodie"
    (request,) = shop.requests
    assert request.status == 200
    assert request.param("oauth_signature_method") == "HMAC-SHA256"
    assert request.param("oauth_consumer_key") == shop.consumer_key
    assert request.param("oauth_signature")
    assert "authorization" not in request.headers
    everything_sent = repr(request.query) + repr(request.headers) + request.body.decode()
    assert shop.consumer_secret not in everything_sent


def test_a_wrong_secret_is_a_permanent_authentication_error_and_is_not_retried(shop):
    before = api_calls("GET", "permanent")
    with client_for(shop, consumer_secret="cs_" + "0" * 40) as woo, pytest.raises(AuthenticationError) as caught:
        woo.get_product(1)

    error = caught.value
    assert isinstance(error, PermanentError)
    assert not error.transient
    assert error.http_status == 401
    assert error.wc_code == "woocommerce_rest_authentication_error"
    assert error.wc_message == "Invalid signature - provided signature does not match."
    assert "consumer key or secret is wrong" in error.message
    assert len(shop.requests) == 1
    assert api_calls("GET", "permanent") == before + 1


def test_a_read_only_key_gets_a_clear_permission_error_on_writes(shop):
    read_only = WooCommerceServer(read_only=True)
    with read_only, client_for(read_only) as woo:
        product = read_only.add_product()
        assert woo.get_product(product["id"]).id == product["id"]  # reading is allowed
        with pytest.raises(AuthenticationError) as caught:
            woo.update_product(product["id"], {"stock_quantity": 3})
    assert caught.value.wc_message == "The API key provided does not have write permissions."
    assert "lacks read/write permission" in caught.value.message
    assert [r.method for r in read_only.requests] == ["GET", "PUT"]


def test_every_retry_is_signed_afresh_so_the_shop_never_sees_a_replayed_nonce(shop, client):
    product = shop.add_product()
    shop.fail(503, times=2)

    assert client.get_product(product["id"]).id == product["id"]

    nonces = [r.param("oauth_nonce") for r in shop.requests]
    assert len(nonces) == 3
    assert len(set(nonces)) == 3
    assert [r.status for r in shop.requests] == [503, 503, 200]


def test_https_uses_basic_auth_and_a_wrong_secret_is_refused(tmp_path):
    authority = trustme.CA()
    server_context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    authority.issue_cert("127.0.0.1").configure_cert(server_context)
    client_context = ssl.create_default_context()
    authority.configure_trust(client_context)

    with WooCommerceServer(tls=server_context) as tls_shop:
        product = tls_shop.add_product(name="Over TLS")
        assert tls_shop.url.startswith("https://127.0.0.1:")
        with client_for(tls_shop, verify=client_context) as woo:
            assert woo.get_product(product["id"]).name == "Over TLS"
        with (
            client_for(tls_shop, verify=client_context, consumer_secret="cs_wrong") as woo,
            pytest.raises(AuthenticationError) as caught,
        ):
            woo.get_product(product["id"])
    good, bad = tls_shop.requests
    assert good.headers["authorization"].startswith("Basic ")
    assert not any(key.startswith("oauth_") for key in good.query)
    assert bad.status == 401
    assert caught.value.wc_message == "Consumer secret is invalid."


def test_plain_http_to_a_public_shop_is_refused_unless_explicitly_allowed():
    with pytest.raises(ConfigurationError, match="plain http"):
        WooCommerceClient("http://shop.example.com", "ck_x", "cs_x")
    allowed = WooCommerceClient("http://shop.example.com", "ck_x", "cs_x", allow_insecure_http=True)
    assert allowed.base_url == "http://shop.example.com/wp-json/wc/v3/"
    in_folder = WooCommerceClient("https://example.com/shop/", "ck_x", "cs_x")
    assert in_folder.base_url == "https://example.com/shop/wp-json/wc/v3/"
    with pytest.raises(ConfigurationError):
        WooCommerceClient("https://example.com", "", "cs_x")
    assert "cs_x" not in repr(allowed)
    allowed.close()
    in_folder.close()


# --- pagination and incremental listing ------------------------------------------------


def test_iterating_products_walks_every_page_and_returns_each_product_once(shop, client):
    seeded = shop.seed_products(250)

    products = list(client.iter_products())

    assert [p.id for p in products] == sorted(p["id"] for p in seeded)
    pages = list(iter_pages(shop, "products"))
    assert [r.param("page") for r in pages] == ["1", "2", "3"]
    assert {r.param("per_page") for r in pages} == {"100"}


def test_a_page_reports_the_totals_from_the_wp_headers(shop, client):
    shop.seed_products(250)

    page = client.list_products(page=3, per_page=100)

    assert (page.total, page.total_pages, len(page.items), page.has_next) == (250, 3, 50, False)
    assert client.list_products(page=2, per_page=100).has_next


def test_per_page_over_100_is_refused_before_anything_is_sent(shop, client):
    with pytest.raises(ValueError, match="per_page"):
        client.list_products(per_page=101)
    assert shop.requests == []


def test_incremental_listing_returns_only_products_modified_after_the_cursor(shop, client):
    start = datetime(2024, 6, 1, 12, 0, tzinfo=UTC)
    seeded = shop.seed_products(30, start=start, step=timedelta(minutes=1))
    # The same instant written in another zone: the client must send it in GMT.
    cursor = (start + timedelta(minutes=19, seconds=30)).astimezone(timezone(timedelta(hours=2)))

    newer = list(client.iter_products(modified_after=cursor))

    assert [p.id for p in newer] == [p["id"] for p in seeded[20:]]
    assert all(p.date_modified_gmt is not None and p.date_modified_gmt > cursor for p in newer)
    (request,) = shop.requests
    assert request.param("modified_after") == "2024-06-01T12:19:30"
    assert request.param("dates_are_gmt") == "true"


def test_a_naive_cursor_is_refused(client):
    with pytest.raises(ValueError, match="timezone-aware"):
        list(client.iter_products(modified_after=datetime(2024, 1, 1)))  # noqa: DTZ001 - the point of the test


def test_variations_of_a_product_are_listed_with_their_attributes(shop, client):
    product = shop.add_product(name="Tee")
    black = shop.add_variation(
        product["id"], regular_price="29.90", attributes=[{"id": 6, "name": "Color", "option": "Black"}]
    )
    white = shop.add_variation(
        product["id"], regular_price="31.00", attributes=[{"id": 6, "name": "Color", "option": "White"}]
    )

    variations = list(client.iter_variations(product["id"]))

    assert [v.id for v in variations] == [black["id"], white["id"]]
    assert [v.price for v in variations] == [Decimal("29.90"), Decimal("31.00")]
    assert variations[1].attributes[0].option == "White"
    assert {v.product_id for v in variations} == {product["id"]}
    assert client.get_product(product["id"]).variations == (black["id"], white["id"])


# --- retries, timeouts and error classes -------------------------------------------------


def test_a_429_is_retried_after_the_retry_after_seconds_the_shop_sent(shop, client):
    product = shop.add_product()
    shop.fail(429, retry_after="1")
    retries_before = api_calls("GET", "retry")

    assert client.get_product(product["id"]).id == product["id"]

    first, second = shop.requests
    assert (first.status, second.status) == (429, 200)
    # The policy's own backoff is 10 ms: a gap of a second can only come from the header.
    assert 0.95 <= second.at - first.at < 3.0
    assert api_calls("GET", "retry") == retries_before + 1


def test_a_retry_after_given_as_an_http_date_is_honoured(shop):
    product = shop.add_product()
    shop.fail(429, retry_after=format_datetime(datetime.now(UTC) + timedelta(seconds=3), usegmt=True))
    waits: list[float] = []
    with client_for(shop, sleep=waits.append) as woo:
        assert woo.get_product(product["id"]).id == product["id"]
    assert len(waits) == 1
    assert 1.5 < waits[0] <= 3.0
    assert parse_retry_after("Wed, 21 Oct 2015 07:28:30 GMT", now=datetime(2015, 10, 21, 7, 28, tzinfo=UTC)) == 30.0
    assert parse_retry_after("soon") is None


def test_a_retry_after_beyond_the_wait_budget_gives_up_at_once(shop, client):
    shop.fail(503, retry_after="120")

    with pytest.raises(TransientError) as caught:
        client.get_product(1)

    assert caught.value.retry_after == 120.0
    assert caught.value.http_status == 503
    assert len(shop.requests) == 1


def test_server_errors_are_retried_until_the_call_succeeds(shop, client):
    product = shop.add_product()
    shop.fail(500, times=2)
    ok_before, retry_before = api_calls("GET", "ok"), api_calls("GET", "retry")

    assert client.get_product(product["id"]).id == product["id"]

    assert [r.status for r in shop.requests] == [500, 500, 200]
    assert api_calls("GET", "retry") == retry_before + 2
    assert api_calls("GET", "ok") == ok_before + 1


def test_giving_up_after_the_last_attempt_is_a_transient_error(shop, client):
    shop.fail(503, times=10)
    transient_before = api_calls("GET", "transient")

    with pytest.raises(TransientError) as caught:
        list(client.iter_products())

    error = caught.value
    assert error.transient
    assert (error.http_status, error.attempts, error.outcome_unknown) == (503, 4, False)
    assert "after 4 attempt(s)" in error.message
    assert len(shop.requests) == 4
    assert api_calls("GET", "transient") == transient_before + 1


def test_a_401_is_permanent_and_not_retried(shop, client):
    shop.fail(401)
    with pytest.raises(AuthenticationError):
        client.get_product(1)
    assert len(shop.requests) == 1


def test_a_missing_product_is_object_not_found_with_the_woocommerce_code(shop, client):
    with pytest.raises(ObjectNotFoundError) as caught:
        client.get_product(424242)
    assert caught.value.wc_code == "woocommerce_rest_product_invalid_id"
    assert caught.value.http_status == 404
    assert len(shop.requests) == 1


def test_a_refused_write_carries_the_woocommerce_code_and_message(shop, client):
    shop.add_product(sku="SKY-TAKEN")
    with pytest.raises(PermanentError) as caught:
        client.create_product({"name": "Dup", "sku": "SKY-TAKEN", "regular_price": Decimal("10.00")})
    assert (caught.value.http_status, caught.value.wc_code) == (400, "product_invalid_sku")
    assert caught.value.wc_message == "Invalid or duplicated SKU."


def test_a_slow_answer_times_out_and_the_read_is_retried(shop):
    product = shop.add_product()
    shop.delay(1.5)  # the retry must then answer within the 0.5 s read timeout, even on a busy machine
    with client_for(shop, timeouts=Timeouts(connect=1.0, read=0.5)) as woo:
        assert woo.get_product(product["id"]).id == product["id"]
    assert len(shop.requests) == 2


def test_a_shop_that_stays_slow_ends_in_a_transient_error(shop):
    shop.delay(0.5, times=10)
    started = time.monotonic()
    with client_for(shop, timeouts=Timeouts(connect=1.0, read=0.15)) as woo, pytest.raises(TransientError) as caught:
        woo.get_product(1)
    assert "ReadTimeout" in caught.value.message
    assert len(shop.requests) == 4
    assert time.monotonic() - started < 3.0


def test_a_create_that_timed_out_is_not_retried_and_the_once_helper_finds_it_afterwards(shop):
    shop.delay(1.5, method="POST", path="products")
    payload = {"name": "Slow Create", "sku": "SKY-SLOW-1", "regular_price": Decimal("49.00")}
    with client_for(shop, timeouts=Timeouts(connect=1.0, read=0.5)) as woo:
        with pytest.raises(TransientError) as caught:
            woo.create_product_once(payload, idempotency_key="outbox-7")
        assert caught.value.outcome_unknown
        # The shop finished the create after the client stopped waiting.
        deadline = time.monotonic() + 5
        while not any(p["sku"] == "SKY-SLOW-1" for p in list(shop.products.values())) and time.monotonic() < deadline:
            time.sleep(0.02)

        again = woo.create_product_once(payload, idempotency_key="outbox-7")

    assert not again.applied
    assert again.result.meta(IDEMPOTENCY_META_KEY) == "outbox-7"
    assert [r.method for r in shop.requests] == ["GET", "POST", "GET"]  # look-up, create, look-up: no second POST
    assert sum(p["sku"] == "SKY-SLOW-1" for p in shop.products.values()) == 1


def test_a_create_refused_with_429_is_retried_because_it_never_ran(shop, client):
    shop.fail(429, retry_after="0", method="POST")

    created = client.create_product({"name": "Rate limited", "sku": "SKY-429"})

    assert created.sku == "SKY-429"
    assert [r.status for r in shop.requests] == [429, 201]
    assert len(shop.products) == 1


def test_a_shop_that_refuses_connections_is_transient_and_known_not_applied():
    woo = WooCommerceClient(
        f"http://127.0.0.1:{closed_port()}",
        "ck_x",
        "cs_x",
        retry=RetryPolicy(max_attempts=3, backoff_base=0.01, max_total_wait=1.0),
        timeouts=Timeouts(connect=0.5, read=0.5),
    )
    with woo, pytest.raises(TransientError) as caught:
        woo.update_product(1, {"stock_quantity": 1})
    assert caught.value.attempts == 3
    assert not caught.value.outcome_unknown
    assert "ConnectError" in caught.value.message


# --- batches -----------------------------------------------------------------------------


def test_a_batch_over_100_items_is_split_and_every_item_gets_its_result(shop, client):
    seeded = shop.seed_products(240)
    updates = [{"id": p["id"], "stock_quantity": 500 + n} for n, p in enumerate(seeded)]
    creates = [{"name": f"New {n}", "sku": f"SKY-NEW-{n}", "regular_price": Decimal("15.50")} for n in range(9)]
    creates.append({"name": "Duplicate", "sku": seeded[0]["sku"]})

    result = client.batch_products(create=creates, update=updates)

    bodies = [r.json for r in shop.requests if r.path == "products/batch"]
    assert result.calls == len(bodies) == 3
    assert [sum(len(b.get(a, [])) for a in ("create", "update", "delete")) for b in bodies] == [100, 100, 50]
    assert len(result.created) == 10
    assert len(result.updated) == 240
    (failed,) = result.errors
    assert (failed.action, failed.index, failed.error.code) == ("create", 9, "product_invalid_sku")
    assert [item.result.sku for item in result.created[:9]] == [f"SKY-NEW-{n}" for n in range(9)]
    assert all(item.ok and item.result.stock_quantity == 500 + item.index for item in result.updated)
    assert shop.products[seeded[239]["id"]]["stock_quantity"] == 739


def test_a_batch_reports_an_unknown_id_without_sinking_the_rest(shop, client):
    keep, gone = shop.seed_products(2)

    result = client.batch_products(
        update=[{"id": 999999, "name": "Ghost"}, {"id": keep["id"], "name": "Renamed"}], delete=[gone["id"]]
    )

    ghost, renamed = result.updated
    assert ghost.error is not None
    assert ghost.error.code == "woocommerce_rest_product_invalid_id"
    assert ghost.object_id == 999999
    assert renamed.ok
    assert renamed.result.name == "Renamed"
    assert result.deleted[0].ok
    assert result.deleted[0].object_id == gone["id"]
    assert gone["id"] not in shop.products


def test_batch_updates_are_retried_but_batches_with_creates_are_not(shop, client):
    product = shop.add_product()
    shop.fail(502, method="POST", path="products/batch")
    result = client.batch_products(update=[{"id": product["id"], "stock_quantity": 1}])
    assert result.updated[0].ok
    assert [r.status for r in shop.requests] == [502, 200]

    shop.clear_requests()
    shop.fail(502, method="POST", path="products/batch")
    with pytest.raises(TransientError) as caught:
        client.batch_products(create=[{"name": "Maybe", "sku": "SKY-MAYBE"}])
    assert caught.value.outcome_unknown
    assert len(shop.requests) == 1


# --- idempotency keys ------------------------------------------------------------------


def test_an_idempotency_key_round_trips_through_meta_data_and_a_repeat_writes_nothing(shop, client):
    product = shop.add_product(meta_data=[{"key": "fabric", "value": "cotton"}])

    first = client.update_product_once(product["id"], {"regular_price": Decimal("120.50")}, idempotency_key="k-1")
    repeat = client.update_product_once(product["id"], {"regular_price": Decimal("120.50")}, idempotency_key="k-1")

    assert first.applied
    assert not repeat.applied
    assert repeat.result.meta(IDEMPOTENCY_META_KEY) == "k-1"
    assert repeat.result.meta("fabric") == "cotton"
    assert repeat.result.regular_price == Decimal("120.50")
    assert [r.method for r in shop.requests] == ["GET", "PUT", "GET"]
    put = shop.requests[1].json
    assert put["regular_price"] == "120.50"  # money goes out as a string, as WooCommerce expects
    assert put["meta_data"] == [{"key": IDEMPOTENCY_META_KEY, "value": "k-1"}]

    newer = client.update_product_once(product["id"], {"stock_quantity": 3}, idempotency_key="k-2")
    assert newer.applied
    keys = [m for m in shop.products[product["id"]]["meta_data"] if m["key"] == IDEMPOTENCY_META_KEY]
    assert [m["value"] for m in keys] == ["k-2"]  # replaced, not piled up


def test_creating_once_a_sku_that_another_change_owns_is_a_conflict(shop, client):
    shop.add_product(sku="SKY-OWNED", meta_data=[{"key": IDEMPOTENCY_META_KEY, "value": "someone-else"}])
    with pytest.raises(PermanentError) as caught:
        client.create_product_once({"name": "Mine", "sku": "SKY-OWNED"}, idempotency_key="mine")
    assert caught.value.code == "sku_conflict"
    assert [r.method for r in shop.requests] == ["GET"]


def test_find_by_meta_scans_recently_modified_products(shop, client):
    old = datetime(2024, 1, 1, tzinfo=UTC)
    shop.seed_products(5, start=old)
    marked = client.create_product({"name": "Marked", "meta_data": [{"key": IDEMPOTENCY_META_KEY, "value": "k-9"}]})

    found = client.find_products_by_meta("k-9", modified_after=datetime.now(UTC) - timedelta(minutes=5))

    assert [p.id for p in found] == [marked.id]
    assert shop.requests[-1].param("modified_after") is not None


# --- orders, customers and typed values --------------------------------------------------


def test_money_is_decimal_and_dates_are_aware_utc(shop, client):
    product = shop.add_product()
    order = shop.add_order(modified=datetime(2024, 3, 22, 19, 28, 2, tzinfo=UTC))

    parsed_product = client.get_product(product["id"])
    parsed_order = client.get_order(order["id"])

    assert parsed_product.price == Decimal("89.90")
    assert str(parsed_product.price) == "89.90"
    assert parsed_product.regular_price == Decimal("99.90")
    assert parsed_order.total == Decimal("40.25")
    assert parsed_order.total_tax == Decimal("1.35")
    line_prices = [item.price for item in parsed_order.line_items]
    assert line_prices == [Decimal("9"), Decimal("10.9")]  # a JSON number in v3, still exact
    assert all(type(price) is Decimal for price in line_prices)
    assert parsed_order.line_items[1].variation_id == 733
    assert parsed_order.line_items[0].variation_id is None
    assert parsed_order.date_created_gmt == datetime(2024, 3, 22, 19, 28, 2, tzinfo=UTC)
    assert parsed_order.date_modified_gmt is not None
    assert parsed_order.date_modified_gmt.utcoffset() == timedelta(0)
    # Exact digits survive decoding, and a float is refused rather than trusted.
    assert decode_json(b'{"price": 19.999999999999999999}')["price"] == Decimal("19.999999999999999999")
    with pytest.raises(MalformedResponseError):
        parse_money(0.1)


def test_orders_are_listed_by_status_and_updated_once(shop, client):
    processing = shop.add_order(status="processing")
    shop.add_order(status="completed")

    listed = list(client.iter_orders(status=["processing"]))
    assert [o.id for o in listed] == [processing["id"]]

    done = client.update_order_once(processing["id"], {"status": "completed"}, idempotency_key="ord-1")
    assert done.applied
    assert done.result.status == "completed"
    assert not client.update_order_once(processing["id"], {"status": "completed"}, idempotency_key="ord-1").applied


def test_customers_are_listed_and_a_batch_create_reports_a_taken_email(shop, client):
    existing = shop.add_customer(email="jane@example.com")
    listed = list(client.iter_customers())
    assert [c.email for c in listed] == ["jane@example.com"]
    assert client.get_customer(existing["id"]).billing["city"] == "San Francisco"

    result = client.batch_customers(create=[{"email": "new@example.com"}, {"email": "jane@example.com"}])

    assert result.created[0].ok
    assert result.created[0].result.email == "new@example.com"
    assert result.created[1].error is not None
    assert result.created[1].error.code == "registration-error-email-exists"


# --- logs never carry credentials -------------------------------------------------------------


def test_no_log_line_carries_the_consumer_secret_or_the_signed_query(shop, caplog):
    caplog.set_level(logging.DEBUG)
    product = shop.add_product()
    errors: list[Exception] = []
    with client_for(shop) as woo:
        shop.fail(503, times=1)
        woo.get_product(product["id"])  # a retry, then success
        shop.fail(503, times=4)  # exactly the client's attempts
        try:
            woo.get_product(product["id"])
        except TransientError as exc:
            errors.append(exc)
    with client_for(shop, consumer_secret="cs_" + "9" * 40) as wrong:
        try:
            wrong.get_product(product["id"])
        except AuthenticationError as exc:
            errors.append(exc)
    shop.delay(0.5)
    with client_for(shop, timeouts=Timeouts(connect=1.0, read=0.1), retry=RetryPolicy(max_attempts=1)) as slow:
        try:
            slow.get_product(product["id"])
        except TransientError as exc:
            errors.append(exc)

    assert len(errors) == 3
    lines = [record.getMessage() for record in caplog.records] + [str(e) for e in errors]
    assert any("[oauth query redacted]" in line for line in lines)  # httpx's request lines were seen
    for line in lines:
        assert shop.consumer_secret not in line
        assert "cs_" + "9" * 40 not in line
        assert "oauth_signature" not in line
        assert "oauth_nonce" not in line


# --- configuration ---------------------------------------------------------------------------


def test_a_client_from_settings_talks_to_the_configured_shop(shop, settings):
    settings.WORDPRESS_URL = shop.url
    settings.WOOCOMMERCE_KEY = shop.consumer_key
    settings.WOOCOMMERCE_SECRET = shop.consumer_secret
    settings.WOOCOMMERCE_MAX_ATTEMPTS = 2
    product = shop.add_product(name="From settings")
    shop.fail(503, times=2)

    with WooCommerceClient.from_settings(retry=RetryPolicy(max_attempts=2, backoff_base=0.01)) as woo:
        with pytest.raises(TransientError):
            woo.get_product(product["id"])
        assert woo.get_product(product["id"]).name == "From settings"
    assert WooCommerceClient.from_settings().retry.max_attempts == 2

    settings.WOOCOMMERCE_SECRET = ""
    with pytest.raises(ConfigurationError, match="WOOCOMMERCE_SECRET"):
        WooCommerceClient.from_settings()
