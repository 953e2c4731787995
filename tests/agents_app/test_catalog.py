"""The agent catalog: 54 agents, six categories, real tools, idempotent seeding."""

from __future__ import annotations

import io
from collections import Counter

import pytest
from django.core.management import call_command

from agents_app import catalog
from agents_app.models import Agent
from agents_app.tools.base import registry

CATEGORIES = {"commerce", "creative", "marketing", "support", "operations", "analytics"}


def test_catalog_has_54_agents_in_six_categories_led_by_the_core_six() -> None:
    definitions = catalog.definitions()
    assert len(definitions) == 54
    assert len({d["slug"] for d in definitions}) == 54
    assert Counter(d["category"] for d in definitions) == dict.fromkeys(CATEGORIES, 9)
    slugs = {d["slug"] for d in definitions}
    for core in ("commerce-001", "creative-001", "marketing-001", "support-001", "operations-001", "analytics-001"):
        assert core in slugs


def test_every_tool_an_agent_lists_is_registered() -> None:
    tools = registry()
    unknown = {(d["slug"], name) for d in catalog.definitions() for name in d["tools"] if name not in tools}
    assert unknown == set()
    assert all(d["tools"] for d in catalog.definitions())


def test_llm_agents_have_a_system_prompt_and_a_preferred_model() -> None:
    for d in catalog.definitions():
        if "llm_complete" in d["tools"]:
            assert catalog.BRAND_PREAMBLE in d["system_prompt"]
            assert len(d["system_prompt"]) > len(catalog.BRAND_PREAMBLE) + 40, d["slug"]
            assert d["preferred_provider"]
            assert d["preferred_model"]


@pytest.mark.django_db
def test_seed_agents_is_idempotent_and_reports_counts() -> None:
    first, second = io.StringIO(), io.StringIO()
    call_command("seed_agents", stdout=first)
    Agent.objects.filter(slug="support-001").update(name="Renamed by an operator")
    call_command("seed_agents", stdout=second)
    assert "54 created, 0 updated, 54 in total" in first.getvalue()
    assert "0 created, 54 updated, 54 in total" in second.getvalue()
    assert Agent.objects.count() == 54
    assert Agent.objects.get(slug="support-001").name == "Support Lead"
    assert set(Agent.objects.values_list("category", flat=True)) == CATEGORIES
