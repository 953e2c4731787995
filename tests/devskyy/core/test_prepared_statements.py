"""PostgreSQL: repeated statements are prepared on the server (DB_PREPARE_THRESHOLD)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator

import pytest

pytestmark = pytest.mark.services


@pytest.mark.django_db(transaction=True)
def test_a_statement_repeated_on_a_connection_is_prepared_there() -> None:
    from django.conf import settings
    from django.db import connection

    from agents_app.models import Agent

    assert settings.DB_PREPARE_THRESHOLD == 5
    slug = "prepared-statement-probe"
    for _ in range(settings.DB_PREPARE_THRESHOLD + 1):
        assert not Agent.objects.filter(slug=slug).exists()
    with connection.cursor() as cursor:
        cursor.execute("SELECT statement FROM pg_prepared_statements")
        prepared = [row[0] for row in cursor.fetchall()]
    assert any('FROM "agents_app_agent"' in sql and '"slug" = $' in sql for sql in prepared), prepared


def _database_options(**env: str) -> dict[str, object]:
    code = (
        "import django, json; django.setup(); from django.conf import settings; "
        "print(json.dumps({k: v for k, v in settings.DATABASES['default']['OPTIONS'].items() if k != 'pool'}))"
    )
    result = subprocess.run(
        [sys.executable, "-c", code],
        env={**os.environ, "DJANGO_SETTINGS_MODULE": "devskyy.settings", **env},
        capture_output=True,
        text=True,
        check=True,
        timeout=60,
    )
    options: dict[str, object] = json.loads(result.stdout.strip().splitlines()[-1])
    return options


def test_the_threshold_sets_server_side_binding_and_zero_turns_both_off() -> None:
    url = os.environ["DATABASE_URL"]
    on = _database_options(DATABASE_URL=url, DB_PREPARE_THRESHOLD="3")
    assert (on["server_side_binding"], on["prepare_threshold"]) == (True, 3)
    off = _database_options(DATABASE_URL=url, DB_PREPARE_THRESHOLD="0")
    assert "server_side_binding" not in off
    assert "prepare_threshold" not in off


@pytest.fixture
def probe_table() -> Iterator[str]:
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute("CREATE TABLE prepared_probe (name varchar(10))")
        cursor.execute("INSERT INTO prepared_probe VALUES ('hoodie')")
    try:
        yield "prepared_probe"
    finally:
        with connection.cursor() as cursor:
            cursor.execute("DROP TABLE IF EXISTS prepared_probe")


def _widen_from_another_connection() -> None:
    """A migration run elsewhere (the next release's) while this process serves."""
    import psycopg
    from django.db import connection

    params = {k: v for k, v in connection.get_connection_params().items() if k not in ("cursor_factory", "context")}
    with psycopg.connect(**params, autocommit=True) as other:
        other.execute("ALTER TABLE prepared_probe ALTER COLUMN name TYPE varchar(40)")


def _names() -> list[str]:
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute("SELECT name FROM prepared_probe WHERE name <> %s", ["none"])
        return [row[0] for row in cursor.fetchall()]


@pytest.mark.django_db(transaction=True)
def test_a_prepared_statement_keeps_working_after_its_columns_change_type(probe_table: str) -> None:
    from django.conf import settings
    from django.db import connection

    for _ in range(settings.DB_PREPARE_THRESHOLD + 1):
        assert _names() == ["hoodie"]
    _widen_from_another_connection()

    assert _names() == ["hoodie"]  # re-planned on this connection, no error

    # Inside a transaction block the block fails (it is aborted), and the connection
    # is marked to be replaced once the request or task ends.
    for _ in range(settings.DB_PREPARE_THRESHOLD + 1):
        assert _names() == ["hoodie"]
    with connection.cursor() as cursor:
        cursor.execute(
            "ALTER TABLE prepared_probe ALTER COLUMN name TYPE varchar(10)"
        )  # this connection: psycopg forgets
    for _ in range(settings.DB_PREPARE_THRESHOLD + 1):
        assert _names() == ["hoodie"]
    _widen_from_another_connection()
    from django.db import NotSupportedError, transaction

    with pytest.raises(NotSupportedError, match="cached plan must not change result type"), transaction.atomic():
        _names()
    assert connection.close_at is not None
    connection.close_if_unusable_or_obsolete()
    assert _names() == ["hoodie"]
