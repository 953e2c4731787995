"""Commits that need not wait for the disk: PostgreSQL's ``synchronous_commit`` per statement.

A commit normally returns only after its WAL is flushed to disk. On the benchmark host
that flush cost the backend ~100 us of CPU per commit, and one tool task commits seven
times (bench/README.md, "Issue 9, fifth session"). Some of those writes are worth less
than the wait:

* a feed event: a client that misses one resyncs through the API;
* a task's checkpoint: progress, and a lease renewed again at the next checkpoint;
* a task's claim: if it is lost, so is everything after it, and the task is claimable
  again, which is where a crash of the worker leaves it too.

Task creation (answered to a client) and a task's final state stay synchronous.

What ``synchronous_commit = off`` means (PostgreSQL, "Asynchronous Commit"): the commit
returns before the flush, and the WAL writer flushes within 3 x ``wal_writer_delay``
(600 ms by default). Only a crash of the PostgreSQL server or its machine loses such
commits (the newest first, never a part of one, never out of order); a client that dies
or a backend that is terminated loses nothing. A later synchronous commit flushes every
earlier one. Other sessions see the change at once, as with any commit.

The setting is made for the statement's own transaction only (``set_config(..., true)``),
and only when the statement *is* its transaction (autocommit): inside a transaction
block it would relax the commit of everything else the block wrote.

The other way round, :func:`through_outage` makes sure the outcome of work already done
(a webhook sent, a task's tool run) is written through a short database outage instead
of leaving the work claimed until its lease lapses and doing it again.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from typing import TypeVar

from django.db import InterfaceError, OperationalError, connection

logger = logging.getLogger(__name__)
T = TypeVar("T")

# Waits between tries: 6.35 s in all, well inside the default leases (TASK_LEASE_SECONDS 300 s,
# a webhook's timeout + 30 s), so no other attempt claims the work meanwhile.
OUTAGE_WAITS = (0.05, 0.1, 0.2, 0.4, 0.8, 1.6, 3.2)

RELAX = "set_config('synchronous_commit', 'off', true)"


def relaxed_commit() -> bool:
    """Whether a statement run now may relax its own commit (PostgreSQL, autocommit)."""
    return connection.vendor == "postgresql" and not connection.in_atomic_block


def relaxed_source() -> str | None:
    """A one-row FROM item that relaxes the commit of the statement it is part of, or
    None when the statement may not (see :func:`relaxed_commit`).

    Join it to the statement's FROM list: ``UPDATE t SET ... FROM {item} WHERE ...``,
    ``INSERT ... SELECT ... FROM source, {item}``. The sub-select runs once, as part of
    the statement (in an ``EXISTS`` or an unused column the planner may skip it; tests
    pin each use by the WAL not being flushed after it)."""
    return f"(SELECT {RELAX}) AS relaxed_commit" if relaxed_commit() else None


def through_outage(work: Callable[[], T], *, what: str) -> T:
    """``work()``, tried again after a transient database error (a terminated backend, a
    restarted server, SQLite's lock) while :data:`OUTAGE_WAITS` last.

    For recording what an attempt did (the conditional UPDATE, and what it reads to
    fill it in): the work has happened, so failing here means doing it again once the
    lease lapses. A broken connection is closed so the next try opens a new one.
    Inside a transaction block nothing is retried (the block is broken; its owner
    decides). The last try's error propagates. If a commit succeeded but its answer
    was lost, the retry runs ``work`` again: its condition must also accept the row as
    the lost try left it (the task finish matches its own ``finished_at``), or the
    caller sees "no longer owned" for work it did record.
    """
    for wait in OUTAGE_WAITS:
        try:
            return work()
        except (OperationalError, InterfaceError) as exc:
            if connection.in_atomic_block:
                raise
            logger.warning("%s failed (%s); trying again in %.2f s", what, type(exc).__name__, wait)
            connection.close_if_unusable_or_obsolete()
            time.sleep(wait)
    return work()
