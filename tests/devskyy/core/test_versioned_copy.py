"""VersionedCopy: a process's copy of shared data, served only while its version holds."""

from __future__ import annotations

import time

import pytest
from django.db import transaction

from devskyy.core.versions import VersionedCopy

pytestmark = pytest.mark.django_db(transaction=True)
# Both passes: versions in process memory (embedded), then in Redis (services).
BOTH = pytest.mark.parametrize("backend", ["embedded", pytest.param("services", marks=pytest.mark.services)])


class Loader:
    def __init__(self) -> None:
        self.calls = 0

    def __call__(self) -> int:
        self.calls += 1
        return self.calls


def _copy(name: str, seconds: float = 60.0) -> VersionedCopy[int]:
    return VersionedCopy(f"test_copy_{name}_{time.monotonic_ns()}", seconds=seconds)


@BOTH
def test_the_copy_is_served_until_its_version_changes(backend: str) -> None:
    copy, load = _copy("bump"), Loader()
    assert copy.get(load) == 1
    assert copy.get(load) == 1
    copy.changed()
    assert copy.get(load) == 2
    assert load.calls == 2


@BOTH
def test_a_change_inside_a_transaction_applies_when_it_commits(backend: str) -> None:
    copy, load = _copy("commit"), Loader()
    assert copy.get(load) == 1
    with transaction.atomic():
        copy.changed()
        assert copy.get(load) == 2  # read afresh inside a transaction, never kept
    assert copy.get(load) == 3  # the bump landed at commit
    assert copy.get(load) == 3


@BOTH
def test_nothing_read_inside_a_transaction_is_kept(backend: str) -> None:
    copy, load = _copy("atomic"), Loader()
    with transaction.atomic():
        assert copy.get(load) == 1
        assert copy.get(load) == 2
    assert copy.get(load) == 3
    assert copy.get(load) == 3


@BOTH
def test_another_key_loads_again(backend: str) -> None:
    copy, load = _copy("key"), Loader()
    assert copy.get(load, key=("a",)) == 1
    assert copy.get(load, key=("b",)) == 2
    assert copy.get(load, key=("b",)) == 2


@BOTH
def test_a_copy_lives_at_most_its_seconds_and_zero_keeps_nothing(backend: str) -> None:
    copy, load = _copy("expiry", seconds=0.05), Loader()
    assert copy.get(load) == 1
    time.sleep(0.08)
    assert copy.get(load) == 2
    off, load_off = _copy("off", seconds=0), Loader()
    assert off.get(load_off) == 1
    assert off.get(load_off) == 2
