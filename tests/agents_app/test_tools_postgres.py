"""The tool tests again on PostgreSQL: ``low_stock_report`` reads through one written-out
statement (commerce_app.selectors.low_stock_with_sales), not the ORM's queries."""

from __future__ import annotations

import pytest

from tests.agents_app.test_tools import *  # noqa: F403 - the same tests and helpers

pytestmark = [pytest.mark.services, pytest.mark.django_db]  # type: ignore[assignment]
