"""The execution tests again on PostgreSQL: the claim there is one UPDATE ... FROM ...
RETURNING statement (agents_app/services/execution.py), not the ORM's portable pair."""

from __future__ import annotations

import pytest

from tests.agents_app.test_execution import *  # noqa: F403 - the same tests and fixtures

pytestmark = [pytest.mark.services, pytest.mark.django_db]  # type: ignore[assignment]
