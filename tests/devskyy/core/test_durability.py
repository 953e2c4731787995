"""Which commits wait for the disk (devskyy/core/durability.py), on PostgreSQL.

A relaxed commit leaves the WAL flushed behind what was written until the WAL writer
catches up (within 200 ms by default); a synchronous one returns only once its WAL is
flushed. Read from pg_current_wal_flush_lsn() / pg_current_wal_insert_lsn() right
after each statement.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from django.db import connection, transaction

from agents_app.models import Agent, AgentTask, TaskStatus
from agents_app.services.execution import TaskContext, _finish, task_claim
from devskyy.core import durability
from devskyy.core.events import deliver

pytestmark = [pytest.mark.services, pytest.mark.django_db(transaction=True)]


def _flushed_behind() -> bool:
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_current_wal_flush_lsn() < pg_current_wal_insert_lsn()")
        return bool(cursor.fetchone()[0])


def _insert_lsn() -> str:
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_current_wal_insert_lsn()::text")
        return str(cursor.fetchone()[0])


def _flushed_past(lsn: str) -> bool:
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_current_wal_flush_lsn() > %s::pg_lsn", [lsn])
        return bool(cursor.fetchone()[0])


def _leaves_wal_unflushed(write: Callable[[], Any]) -> bool:
    # The WAL writer may flush between the write and the check (every 200 ms): a
    # relaxed write shows unflushed WAL in at least one of a few tries, a synchronous
    # one in none (nothing else writes to this cluster during the test... except
    # autovacuum, which is why the synchronous case is checked by _flushed_past).
    return any(write() is not False and _flushed_behind() for _ in range(5))


@pytest.fixture
def agent() -> Agent:
    return Agent.objects.create(slug="operations-950", type="t", name="T", category="operations", tools=["x"])


def _event() -> None:
    deliver("tasks", "task_update", {"task_id": "t-1", "status": "running"}, "", "t-1", None, True)


def test_only_a_statement_that_is_its_own_transaction_may_relax() -> None:
    assert durability.relaxed_commit()
    with transaction.atomic():
        assert not durability.relaxed_commit()
        assert durability.relaxed_source() is None


def test_a_feed_event_alone_does_not_wait_for_the_disk() -> None:
    assert _leaves_wal_unflushed(_event)


def test_an_event_inside_a_transaction_leaves_that_transaction_synchronous() -> None:
    with transaction.atomic():
        _event()
        with connection.cursor() as cursor:
            cursor.execute("SELECT current_setting('synchronous_commit')")
            assert cursor.fetchone()[0] == "on"


def test_the_relaxation_ends_with_its_statement() -> None:
    _event()
    with connection.cursor() as cursor:
        cursor.execute("SELECT current_setting('synchronous_commit')")
        assert cursor.fetchone()[0] == "on"


def test_claim_and_checkpoint_relax_but_the_final_state_is_flushed_before_finish_returns(agent: Agent) -> None:
    tasks = [AgentTask.objects.create(agent=agent, action="x") for _ in range(5)]
    claimed: list[AgentTask] = []

    def claim() -> None:
        task, _ = task_claim(task_id=str(tasks[len(claimed)].pk), worker="w1")
        assert task is not None
        claimed.append(task)

    assert _leaves_wal_unflushed(claim)
    task = claimed[-1]
    assert _leaves_wal_unflushed(lambda: TaskContext(task).checkpoint(50))

    before = _insert_lsn()
    assert _finish(task, TaskStatus.COMPLETED, {"result": {"ok": True}, "progress": 100}, in_workflow=False)
    assert _flushed_past(before)
    task.refresh_from_db()
    assert (task.status, task.progress) == (TaskStatus.COMPLETED, 100)
