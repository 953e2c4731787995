"""The task totals tests again on PostgreSQL, where a PL/pgSQL trigger keeps them
(agents_app/migrations/0008_agent_task_totals.py), not SQLite's triggers."""

from __future__ import annotations

import pytest

from tests.agents_app.test_task_totals import *  # noqa: F403 - the same tests and fixtures

pytestmark = [pytest.mark.services, pytest.mark.django_db]  # type: ignore[assignment]
