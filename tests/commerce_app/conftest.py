"""Fixtures for the WooCommerce client tests: a local shop on loopback and clients for it."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from commerce_app.woocommerce import RetryPolicy, Timeouts, WooCommerceClient
from tests.support.woocommerce_server import WooCommerceServer

# Tiny backoff so retry tests take milliseconds; Retry-After tests set their own waits.
FAST_RETRY = RetryPolicy(max_attempts=4, backoff_base=0.01, backoff_max=0.05, max_total_wait=5.0)


def client_for(shop: WooCommerceServer, **options: Any) -> WooCommerceClient:
    options.setdefault("timeouts", Timeouts(connect=1.0, read=2.0, write=2.0, pool=1.0))
    options.setdefault("retry", FAST_RETRY)
    secret = options.pop("consumer_secret", shop.consumer_secret)
    key = options.pop("consumer_key", shop.consumer_key)
    return WooCommerceClient(shop.url, key, secret, **options)


@pytest.fixture
def shop() -> Iterator[WooCommerceServer]:
    with WooCommerceServer() as server:
        yield server


@pytest.fixture
def client(shop: WooCommerceServer) -> Iterator[WooCommerceClient]:
    with client_for(shop) as woo:
        yield woo


@pytest.fixture
def fast_woo(settings):
    """Quick retries and timeouts for sync/outbox tests against the local shop."""
    settings.WOOCOMMERCE_MAX_ATTEMPTS = 4
    settings.WOOCOMMERCE_MAX_RETRY_WAIT = 5.0
    settings.WOOCOMMERCE_CONNECT_TIMEOUT = 1.0
    settings.WOOCOMMERCE_READ_TIMEOUT = 2.0
    return settings


@pytest.fixture
def connected(db, shop, fast_woo):
    """The shop connection row pointing at the local shop (credentials encrypted at rest)."""
    from commerce_app.models import ShopConnection

    return ShopConnection.objects.create(
        store_url=shop.url,
        consumer_key=shop.consumer_key,
        consumer_secret=shop.consumer_secret,
        webhook_secret="whsec-test",
    )
