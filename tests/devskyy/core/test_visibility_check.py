"""core.W002: no message a worker holds unacknowledged may outlive the visibility timeout."""

from __future__ import annotations

import pytest
from django.core.management import call_command
from django.core.management.base import SystemCheckError

from devskyy.core.checks import visibility_timeout_check


def test_the_shipped_defaults_pass_and_embedded_mode_is_not_checked(settings) -> None:
    settings.TASKS_EMBEDDED = False
    settings.CELERY_VISIBILITY_TIMEOUT = 1200  # CELERY_TASK_TIME_LIMIT (900) + 300
    settings.CELERY_TASK_TIME_LIMIT, settings.TASK_LEASE_SECONDS, settings.MEDIA_POLL_MAX_SECONDS = 900, 300, 30
    assert visibility_timeout_check() == []
    settings.TASKS_EMBEDDED = True
    settings.TASK_LEASE_SECONDS = 5000
    assert visibility_timeout_check() == []


def test_a_lease_as_long_as_the_visibility_timeout_fails_manage_py_check(settings) -> None:
    settings.TASKS_EMBEDDED = False
    settings.CELERY_VISIBILITY_TIMEOUT = 1200
    settings.CELERY_TASK_TIME_LIMIT, settings.TASK_LEASE_SECONDS, settings.MEDIA_POLL_MAX_SECONDS = 900, 1200, 30
    warnings = visibility_timeout_check()
    assert [w.id for w in warnings] == ["core.W002"]
    assert "TASK_LEASE_SECONDS (1200 s)" in warnings[0].msg
    with pytest.raises(SystemCheckError, match="core.W002"):
        call_command("check", "--fail-level", "WARNING")
