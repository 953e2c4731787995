"""Admin for the LLM gateway, Round Tables and workflows: pages load with bounded
queries, secrets stay write-only, edits and actions go through services."""

# JSON results and optional relations are read in asserts:
# mypy: disable-error-code="index, union-attr"
from __future__ import annotations

from datetime import date
from decimal import Decimal

import pytest
from django.test import Client

from agents_app.llm.models import DailyBudget, ProviderCredential, RoundTable, RoundTableEntry, SpendLedgerEntry
from agents_app.llm.services import ledger_record
from agents_app.models import Agent, WorkflowRun, WorkflowStep
from devskyy.core.models import AuditLog

pytestmark = pytest.mark.django_db


@pytest.fixture
def data(db):
    agent = Agent.objects.create(slug="commerce-900", type="t", name="T", category="commerce", tools=["catalog_search"])
    for i in range(5):
        ledger_record(provider="openai", amount=Decimal("0.001"), prompt_tokens=10 + i, completion_tokens=5)
    table = RoundTable.objects.create(prompt="p", agent_slug="commerce-900")
    entry = RoundTableEntry.objects.create(round_table=table, provider="openai", model="m", status="ok", text="t")
    table.winner = entry
    table.save()
    run = WorkflowRun.objects.create(name="custom", definition={})
    WorkflowStep.objects.create(run=run, step_id="a", position=0, agent=agent, action="catalog_search")
    return run


@pytest.mark.parametrize(
    "page",
    [
        "/admin/agents_app/spendledgerentry/",
        "/admin/agents_app/roundtable/",
        "/admin/agents_app/workflowrun/",
        "/admin/agents_app/providercredential/",
        "/admin/agents_app/dailybudget/",
        "/admin/agents_app/agentbudget/",
    ],
)
def test_changelists_load_with_bounded_queries(admin_client: Client, data, page, django_assert_max_num_queries) -> None:
    with django_assert_max_num_queries(12):
        assert admin_client.get(page).status_code == 200


def test_detail_pages_show_entries_and_steps_read_only(admin_client: Client, data) -> None:
    table = RoundTable.objects.get()
    assert admin_client.get(f"/admin/agents_app/roundtable/{table.pk}/change/").status_code == 200
    assert admin_client.get(f"/admin/agents_app/workflowrun/{data.pk}/change/").status_code == 200
    entry = SpendLedgerEntry.objects.first()
    page = admin_client.get(f"/admin/agents_app/spendledgerentry/{entry.pk}/change/")
    assert page.status_code == 200
    assert b'name="_save"' not in page.content  # read-only


def test_a_provider_key_is_stored_encrypted_and_never_shown(admin_client: Client) -> None:
    response = admin_client.post(
        "/admin/agents_app/providercredential/add/",
        {
            "provider": "groq",
            "api_key": "gsk-super-secret-123",
            "base_url": "",
            "default_model": "",
            "enabled": "on",
            "priority": "5",
        },
    )
    assert response.status_code == 302, response.content[:500]
    credential = ProviderCredential.objects.get(provider="groq")
    assert credential.api_key == "gsk-super-secret-123"
    assert "gsk-super-secret-123" not in credential.api_key_encrypted
    page = admin_client.get(f"/admin/agents_app/providercredential/{credential.pk}/change/")
    assert b"gsk-super-secret-123" not in page.content
    # Saving without a new key keeps the stored one.
    admin_client.post(
        f"/admin/agents_app/providercredential/{credential.pk}/change/",
        {"base_url": "", "default_model": "llama-3.1-8b-instant", "enabled": "on", "priority": "7"},
    )
    credential.refresh_from_db()
    assert (credential.api_key, credential.priority) == ("gsk-super-secret-123", 7)
    assert AuditLog.objects.filter(action="llm.credential.saved").count() == 2
    assert "gsk-super-secret-123" not in str(list(AuditLog.objects.values_list("details", flat=True)))


def test_a_daily_limit_edit_goes_through_the_audited_service(admin_client: Client) -> None:
    budget = DailyBudget.objects.create(agent_slug="commerce-900", day=date.today(), limit_usd=Decimal("5"))  # noqa: DTZ011
    response = admin_client.post(f"/admin/agents_app/dailybudget/{budget.pk}/change/", {"limit_usd": "1.5"})
    assert response.status_code == 302
    budget.refresh_from_db()
    assert budget.limit_usd == Decimal("1.5")
    assert AuditLog.objects.get(action="llm.budget.limit_changed").details == {"from": "5.0000", "to": "1.5"}


def test_the_cancel_action_cancels_running_workflows(admin_client: Client, data) -> None:
    response = admin_client.post(
        "/admin/agents_app/workflowrun/", {"action": "cancel_runs", "_selected_action": [str(data.pk)]}
    )
    assert response.status_code == 302
    data.refresh_from_db()
    assert data.status == "cancelled"
    assert WorkflowStep.objects.get().status == "cancelled"
