"""devskyy.core.catalog_changes: commerce announces product changes, listeners run on commit."""

from __future__ import annotations

import pytest
from django.db import transaction

from agents_app.llm import cache as response_cache
from commerce_app.services import demo_shop_seed
from devskyy.core.catalog_changes import products_changed, subscribe, unsubscribe

pytestmark = pytest.mark.django_db


@pytest.fixture
def heard():
    calls: list[list[int]] = []
    subscribe(calls.append)
    yield calls
    unsubscribe(calls.append)


def test_listeners_hear_a_change_only_after_commit(heard, django_capture_on_commit_callbacks) -> None:
    with django_capture_on_commit_callbacks(execute=True):
        products_changed([3, 1, 3])
        assert heard == []
    assert heard == [[1, 3]]


def test_a_rolled_back_change_announces_nothing(heard, django_capture_on_commit_callbacks) -> None:
    with django_capture_on_commit_callbacks(execute=True):
        try:
            with transaction.atomic():
                products_changed([7])
                raise RuntimeError("rollback")
        except RuntimeError:
            pass
    assert heard == []


def test_a_failing_listener_does_not_break_the_others(heard, django_capture_on_commit_callbacks) -> None:
    def broken(ids: list[int]) -> None:
        raise ValueError("boom")

    subscribe(broken)
    try:
        with django_capture_on_commit_callbacks(execute=True):
            products_changed([5])
    finally:
        unsubscribe(broken)
    assert heard == [[5]]


def test_the_agents_app_drops_cached_answers_for_changed_products(django_capture_on_commit_callbacks, settings) -> None:
    settings.LLM_CACHE_TTL = 300
    before = response_cache.product_versions(["42"])
    with django_capture_on_commit_callbacks(execute=True):
        products_changed([42])
    assert response_cache.product_versions(["42"]) != before


def test_seeding_the_demo_shop_announces_the_products_it_created(heard, django_capture_on_commit_callbacks) -> None:
    with django_capture_on_commit_callbacks(execute=True):
        result = demo_shop_seed()
    assert len(heard) == 1
    assert len(heard[0]) == result.products_created
