"""A fault on a real PostgreSQL connection: its backend ended, as by a server restart."""

from __future__ import annotations

from collections.abc import Callable


def backend_killer() -> Callable[[], None]:
    """A callable that terminates the backend of this thread's Django connection (as it
    is now), from a connection of its own: callable from any thread, e.g. a local
    provider server's while it answers."""
    import psycopg
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_backend_pid()")
        (pid,) = cursor.fetchone()
    params = connection.get_connection_params()

    def kill() -> None:
        with psycopg.connect(**params, autocommit=True) as other:
            assert other.execute("SELECT pg_terminate_backend(%s)", [pid]).fetchone() == (True,)

    return kill
