"""Values derived from settings are computed once and follow every settings change."""

from __future__ import annotations

import pytest
from django.conf import settings as django_settings

from devskyy.core.settings_cache import derived_from_settings

calls: list[str] = []


@derived_from_settings
def _greeting() -> str:
    calls.append(django_settings.ENVIRONMENT)
    return f"hello {django_settings.ENVIRONMENT}"


def test_a_derived_value_is_computed_once_until_a_setting_changes(settings) -> None:
    calls.clear()
    first = _greeting()
    assert _greeting() == first
    assert len(calls) == 1
    settings.ENVIRONMENT = "elsewhere"  # override_settings: Django sends setting_changed
    assert _greeting() == "hello elsewhere"
    assert len(calls) == 2


@pytest.mark.django_db
def test_the_integration_status_follows_a_settings_change(settings) -> None:
    from agents_app.integrations import integration_status

    settings.ENABLE_3D_GENERATION = True
    settings.TRIPO_API_KEY = ""
    assert integration_status()["tripo"] is False
    settings.TRIPO_API_KEY = "tsk-key"
    assert integration_status()["tripo"] is True
    settings.ENABLE_3D_GENERATION = False
    assert integration_status()["tripo"] is False
