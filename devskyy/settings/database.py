"""Database: embedded SQLite by default, PostgreSQL (psycopg 3) in production.

Two connection modes, selectable with DB_CONNECTION_MODE:
- ``persistent`` (default): one connection per thread, kept for DB_POOL_RECYCLE
  seconds and health-checked before reuse (CONN_HEALTH_CHECKS). Measured faster
  than the pool under our thread-pool serving (bench/README.md).
- ``pool``: psycopg_pool per process, sized from DB_POOL_SIZE + DB_MAX_OVERFLOW,
  waiting DB_POOL_TIMEOUT seconds for a connection, recycling after DB_POOL_RECYCLE
  and checking each connection before handing it out (pre-ping).

In both, repeated statements are prepared on the server (DB_PREPARE_THRESHOLD).
"""

from __future__ import annotations

from typing import Any

import dj_database_url

from devskyy.core.env import ConfigError, env

from .base import BASE_DIR, IS_PRODUCTION

_ACCEPTED_SCHEMES = {
    "postgres": "postgres",
    "postgresql": "postgres",
    "postgresql+asyncpg": "postgres",
    "postgresql+psycopg": "postgres",
    "sqlite": "sqlite",
}

DB_POOL_SIZE = env.int("DB_POOL_SIZE", 10, minimum=1, maximum=500)
DB_MAX_OVERFLOW = env.int("DB_MAX_OVERFLOW", 20, minimum=0, maximum=500)
DB_POOL_TIMEOUT = env.float("DB_POOL_TIMEOUT", 30.0, minimum=0.1, maximum=600)
DB_POOL_RECYCLE = env.int("DB_POOL_RECYCLE", 1800, minimum=1)
DB_CONNECTION_MODE = env.choice("DB_CONNECTION_MODE", "persistent", ("persistent", "pool"))
DB_CONNECT_TIMEOUT = env.int("DB_CONNECT_TIMEOUT", 5, minimum=1, maximum=60)
DB_STATEMENT_TIMEOUT_MS = env.int("DB_STATEMENT_TIMEOUT_MS", 30_000, minimum=0)
DB_TCP_USER_TIMEOUT_MS = env.int("DB_TCP_USER_TIMEOUT_MS", 30_000, minimum=0)
# PostgreSQL: a statement run this many times on a connection is prepared there (parsed
# and planned once per connection; psycopg keeps the 100 most recent). It needs
# server-side parameter binding, which this turns on too. 0 turns both off, e.g. behind
# a transaction-mode PgBouncer. Halved PostgreSQL's CPU per task (bench/README.md, P5).
DB_PREPARE_THRESHOLD = env.int("DB_PREPARE_THRESHOLD", 5, minimum=0, maximum=1000)


def _parse_database_url(url: str) -> dict[str, Any]:
    scheme, sep, rest = url.partition("://")
    if not sep or scheme not in _ACCEPTED_SCHEMES:
        raise ConfigError(
            "DATABASE_URL must start with postgres://, postgresql://, postgresql+asyncpg:// or sqlite://; "
            f"got scheme {scheme or '(none)'!r}."
        )
    kind = _ACCEPTED_SCHEMES[scheme]
    normalised = f"{kind}://{rest}"
    try:
        config: dict[str, Any] = dict(dj_database_url.parse(normalised))
    except (ValueError, KeyError, dj_database_url.ParseError) as exc:
        raise ConfigError(f"DATABASE_URL is malformed ({type(exc).__name__}).") from None
    if kind == "postgres" and not config.get("NAME"):
        raise ConfigError("DATABASE_URL must name a database (postgres://user@host:5432/dbname).")
    return config


def _postgres(config: dict[str, Any]) -> dict[str, Any]:
    options: dict[str, Any] = dict(config.get("OPTIONS") or {})
    options["connect_timeout"] = DB_CONNECT_TIMEOUT
    # Bound how long a query can hang on a server that stopped answering (client side;
    # statement_timeout only helps while the server is alive).
    options["keepalives"] = 1
    options["keepalives_idle"] = 30
    options["keepalives_interval"] = 10
    options["keepalives_count"] = 3
    if DB_TCP_USER_TIMEOUT_MS:
        options["tcp_user_timeout"] = DB_TCP_USER_TIMEOUT_MS
    if DB_PREPARE_THRESHOLD:
        options["server_side_binding"] = True
        options["prepare_threshold"] = DB_PREPARE_THRESHOLD
    if DB_STATEMENT_TIMEOUT_MS:
        options["options"] = f"-c statement_timeout={DB_STATEMENT_TIMEOUT_MS}"
    if DB_CONNECTION_MODE == "pool":
        options["pool"] = {
            "min_size": DB_POOL_SIZE,
            "max_size": DB_POOL_SIZE + DB_MAX_OVERFLOW,
            "timeout": DB_POOL_TIMEOUT,
            "max_lifetime": float(DB_POOL_RECYCLE),
        }
        config["CONN_MAX_AGE"] = 0  # required by Django when the pool is on
        # Django passes ConnectionPool.check_connection (pre-ping) when this is set.
        config["CONN_HEALTH_CHECKS"] = True
    else:
        config["CONN_MAX_AGE"] = DB_POOL_RECYCLE
        config["CONN_HEALTH_CHECKS"] = True
    config["OPTIONS"] = options
    config["TEST"] = {"NAME": env.str("DATABASE_TEST_NAME", "") or None}
    return config


_url = env.raw("DATABASE_URL")
if _url is None:
    if IS_PRODUCTION:
        raise ConfigError("DATABASE_URL is required when ENVIRONMENT is staging or production.")
    (BASE_DIR / "var").mkdir(exist_ok=True)
    _url = f"sqlite:///{BASE_DIR / 'var' / 'devskyy.sqlite3'}"

_db = _parse_database_url(_url)
if _db["ENGINE"].endswith("postgresql"):
    _db = _postgres(_db)
    DATABASE_KIND = "postgresql"
elif IS_PRODUCTION:
    raise ConfigError("DATABASE_URL must point at PostgreSQL when ENVIRONMENT is staging or production.")
else:
    DATABASE_KIND = "sqlite"
    _db.setdefault("OPTIONS", {})["timeout"] = 20  # seconds to wait on SQLite's write lock

DATABASES = {"default": _db}
