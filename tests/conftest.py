"""Test set-up shared by every test.

Two passes (see scripts/test): the embedded pass runs everything not marked
``services`` with no environment; the services pass runs the ``services`` tests with
DATABASE_URL/REDIS_URL pointing at real PostgreSQL and Redis. In CI (CI=true) a
service that cannot be reached fails the run; on a laptop without them it skips.
"""

from __future__ import annotations

import os
import socket
from collections.abc import Iterator
from urllib.parse import urlsplit

import pytest

SERVICES_PASS = os.environ.get("DEVSKYY_TEST_SERVICES") == "1"
IN_CI = os.environ.get("CI", "").lower() == "true"


def _reachable(url: str, default_port: int) -> bool:
    parts = urlsplit(url)
    try:
        with socket.create_connection((parts.hostname or "127.0.0.1", parts.port or default_port), timeout=1):
            return True
    except OSError:
        return False


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    if not SERVICES_PASS:
        skip = pytest.mark.skip(reason="needs PostgreSQL and Redis: runs in the services pass")
        for item in items:
            if "services" in item.keywords:
                item.add_marker(skip)
        return
    missing = [
        name
        for name, url, port in (
            ("PostgreSQL", os.environ.get("DATABASE_URL", ""), 5432),
            ("Redis", os.environ.get("REDIS_URL", ""), 6379),
        )
        if not url or not _reachable(url, port)
    ]
    if missing and IN_CI:
        raise pytest.UsageError(f"CI=true but {', '.join(missing)} cannot be reached: services tests must run.")
    if missing:
        skip = pytest.mark.skip(reason=f"{', '.join(missing)} not reachable on this machine")
        for item in items:
            if "services" in item.keywords:
                item.add_marker(skip)


@pytest.fixture
def server_env(django_db_setup: None, django_db_blocker: object) -> dict[str, str]:
    """Environment for a subprocess server sharing this test's database and Redis."""
    from django.conf import settings
    from django.db import connection

    db = connection.settings_dict
    if db["ENGINE"].endswith("sqlite3"):
        database_url = f"sqlite:///{db['NAME']}"
    else:
        database_url = f"postgres://{db['USER']}@{db['HOST'] or '127.0.0.1'}:{db['PORT'] or 5432}/{db['NAME']}"
    env = {
        "DATABASE_URL": database_url,
        "LOG_LEVEL": "warning",
        # Same keys as this process, so tokens it issues and values it encrypts work there.
        "SECRET_KEY": settings.SECRET_KEY,
        "JWT_SECRET_KEY": settings.JWT_SECRET_KEY,
        "ENCRYPTION_MASTER_KEY": settings.ENCRYPTION_MASTER_KEY,
    }
    if settings.REDIS_URL:
        env["REDIS_URL"] = settings.REDIS_URL
    return env


@pytest.fixture(autouse=True, scope="session")
def _close_probe_connections(django_db_setup: None) -> object:
    """Health probes keep a persistent connection on their own thread; close it before
    pytest-django drops the test database."""
    yield
    from health_app.checks import close_probe_connections

    close_probe_connections()


@pytest.fixture(autouse=True)
def _fresh_rate_limits() -> None:
    """Each test starts with empty rate-limit windows (tests share one client IP)."""
    from devskyy.core.ratelimit import get_limiter

    get_limiter().reset()


@pytest.fixture(autouse=True)
def _fresh_process_caches() -> None:
    """Each test starts with nothing remembered by this process (verified API keys and
    JWT users, the rendered agents list, stored LLM credentials, webhook subscribers, agents): rolled-back test data must not leak."""
    from agents_app import agent_list
    from agents_app.events import reset_throttle
    from agents_app.integrations import forget_shop_status
    from agents_app.llm.routing import forget_providers
    from agents_app.services.agents import forget_agents
    from devskyy.core import principal_cache
    from devskyy.core.api_keys import forget_verified
    from devskyy.webhooks.services import forget_subscribers

    forget_verified()
    principal_cache.forget()
    agent_list.forget()
    reset_throttle()
    forget_shop_status()
    forget_providers()
    forget_subscribers()
    forget_agents()


@pytest.fixture(autouse=True)
def _no_timed_work_outlives_its_test() -> Iterator[None]:
    """Embedded retries scheduled seconds ahead (webhooks, media steps) are cancelled when
    their test ends: fired later, they ran against the next test's tables (SQLite's
    shared-cache test database then answers "database table is locked")."""
    yield
    from devskyy.core.background import cancel_embedded_timers

    cancel_embedded_timers()


@pytest.fixture(autouse=True)
def _every_agent_status_event(settings: object) -> None:
    """In-process tests see every task-driven agent status event (no throttle timers
    outliving a test); tests of the throttle set their own interval."""
    settings.AGENT_STATUS_EVENT_SECONDS = 0  # type: ignore[attr-defined]
