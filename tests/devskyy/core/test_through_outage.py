"""durability.through_outage's own rules (on either database; the services tests
terminate real PostgreSQL backends under the callers)."""

from __future__ import annotations

import logging
from collections.abc import Callable

import pytest
from django.db import InterfaceError, OperationalError, transaction

from devskyy.core import durability


@pytest.fixture
def quick_waits(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(durability, "OUTAGE_WAITS", (0.001, 0.002, 0.004))


def _failing(times: int, error: type[Exception] = OperationalError) -> tuple[list[int], Callable[[], str]]:
    calls: list[int] = []

    def work() -> str:
        calls.append(1)
        if len(calls) <= times:
            raise error("server closed the connection unexpectedly")
        return "written"

    return calls, work


@pytest.mark.django_db(transaction=True)
def test_a_transient_error_is_tried_again_and_logged(quick_waits: None, caplog: pytest.LogCaptureFixture) -> None:
    calls, work = _failing(2, InterfaceError)
    with caplog.at_level(logging.WARNING, logger="devskyy.core.durability"):
        assert durability.through_outage(work, what="recording the test") == "written"
    assert len(calls) == 3
    assert [r.getMessage() for r in caplog.records] == [
        "recording the test failed (InterfaceError); trying again in 0.00 s",
        "recording the test failed (InterfaceError); trying again in 0.00 s",
    ]


@pytest.mark.django_db(transaction=True)
def test_an_outage_longer_than_the_waits_propagates_its_error(quick_waits: None) -> None:
    calls, work = _failing(10)
    with pytest.raises(OperationalError):
        durability.through_outage(work, what="recording the test")
    assert len(calls) == 4  # one try per wait, and the last


@pytest.mark.django_db(transaction=True)
def test_inside_a_transaction_block_nothing_is_tried_again(quick_waits: None) -> None:
    calls, work = _failing(1)
    with pytest.raises(OperationalError), transaction.atomic():
        durability.through_outage(work, what="recording the test")
    assert len(calls) == 1


@pytest.mark.django_db(transaction=True)
def test_other_errors_are_not_outages(quick_waits: None) -> None:
    calls, work = _failing(1, ValueError)
    with pytest.raises(ValueError, match="server closed"):
        durability.through_outage(work, what="recording the test")
    assert len(calls) == 1
