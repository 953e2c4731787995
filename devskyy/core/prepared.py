"""Prepared statements that outlive a schema change (DB_PREPARE_THRESHOLD).

PostgreSQL refuses to run a statement prepared before its result's columns changed
type ("cached plan must not change result type", SQLSTATE 0A000): a migration that
widens a column, run while processes of the previous release still serve, would fail
that statement on every one of their connections until the connection is replaced.

:func:`replan_after_schema_change` wraps every statement on a PostgreSQL connection
(installed when the connection opens, ``receivers.py``). On that error, outside a
transaction block, it drops the connection's prepared statements (``DEALLOCATE ALL``,
which psycopg sees and forgets its own) and runs the statement once more: the server
refused it while re-planning, before doing anything, so this is safe. Inside a block
the transaction is already aborted: the error goes to the block's owner, and the
connection is replaced at the end of the request or task.
"""

from __future__ import annotations

import logging
import time
from typing import Any

from django.db import NotSupportedError

logger = logging.getLogger(__name__)

_STALE_PLAN = "cached plan must not change result type"


def _stale_plan(exc: NotSupportedError) -> bool:
    cause = exc.__cause__
    return getattr(cause, "sqlstate", None) == "0A000" and _STALE_PLAN in str(cause)


def replan_after_schema_change(execute: Any, sql: str, params: Any, many: bool, context: dict[str, Any]) -> Any:
    try:
        return execute(sql, params, many, context)
    except NotSupportedError as exc:
        if not _stale_plan(exc):
            raise
        db = context["connection"]
        if db.in_atomic_block:
            db.close_at = time.monotonic()  # replaced by close_if_unusable_or_obsolete
            raise
        logger.warning("a prepared statement outlived a schema change; preparing this connection's statements again")
        with db.cursor() as cursor:
            cursor.execute("DEALLOCATE ALL")
        return execute(sql, params, many, context)


def install(connection: Any) -> None:
    """Wrap ``connection``'s statements (PostgreSQL only, once per connection object)."""
    if connection.vendor == "postgresql" and replan_after_schema_change not in connection.execute_wrappers:
        connection.execute_wrappers.append(replan_after_schema_change)
