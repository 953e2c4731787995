"""Stored LLM credentials are read once per version and process (PERF P1,
agents_app/llm/routing.py): a save or delete anywhere applies from the next call, the
agents list makes no query for them while nothing changed, and nothing read inside a
transaction is kept. Transactional: versions are bumped after commit."""

from __future__ import annotations

import io

import pytest
from django.core.management import call_command
from django.db import connection, transaction
from django.test.utils import CaptureQueriesContext
from rest_framework.test import APIClient

from agents_app.llm.models import ProviderCredential
from agents_app.llm.routing import enabled_providers
from agents_app.llm.services import provider_credential_save
from devskyy.core.roles import Role
from tests.support.auth import access_token, make_user

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture(autouse=True)
def _no_env_keys(settings: object) -> None:
    # A new dict (the fixture restores the attribute, not what was changed inside it).
    settings.LLM_PROVIDERS = {  # type: ignore[attr-defined]
        name: {**config, "api_key": "", "base_url": ""}
        for name, config in settings.LLM_PROVIDERS.items()  # type: ignore[attr-defined]
    }


def _names() -> list[str]:
    return [config.name for config in enabled_providers()]


def _credential_reads(queries: CaptureQueriesContext) -> int:
    return sum("agents_app_providercredential" in q["sql"] for q in queries.captured_queries)


def _check_credentials_follow_changes() -> None:
    assert _names() == []
    provider_credential_save(provider="anthropic", api_key="sk-ant-one")
    assert _names() == ["anthropic"], "a saved credential applies from the next call"
    with CaptureQueriesContext(connection) as queries:
        assert _names() == ["anthropic"]
    assert _credential_reads(queries) == 0, "unchanged credentials are not read again"

    provider_credential_save(provider="anthropic", api_key="sk-ant-two", priority=5)
    provider_credential_save(provider="openai", api_key="sk-openai", priority=1)
    configs = enabled_providers()
    assert [c.name for c in configs] == ["openai", "anthropic"]
    assert configs[1].api_key == "sk-ant-two"

    ProviderCredential.objects.get(provider="openai").delete()  # the admin's delete
    assert _names() == ["anthropic"]
    credential = ProviderCredential.objects.get(provider="anthropic")
    credential.enabled = False
    credential.save()
    assert _names() == []


def test_saved_and_deleted_credentials_apply_from_the_next_call() -> None:
    _check_credentials_follow_changes()


@pytest.mark.services
def test_over_redis_saved_and_deleted_credentials_apply_from_the_next_call() -> None:
    _check_credentials_follow_changes()


def test_credentials_read_inside_a_transaction_are_not_kept() -> None:
    with transaction.atomic():
        provider_credential_save(provider="mistral", api_key="sk-mistral")
        assert _names() == ["mistral"]
        transaction.set_rollback(True)
    assert _names() == []


def test_a_changed_environment_key_applies_without_a_stored_change(settings: object) -> None:
    assert _names() == []
    env = {name: dict(config) for name, config in settings.LLM_PROVIDERS.items()}  # type: ignore[attr-defined]
    env["google"]["api_key"] = "env-key"
    settings.LLM_PROVIDERS = env  # type: ignore[attr-defined]  # as a deploy's new environment does
    assert _names() == ["google"]


def test_the_agents_list_reads_no_credentials_while_nothing_changed() -> None:
    call_command("seed_agents", stdout=io.StringIO())
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {access_token(make_user(Role.READ_ONLY))}")
    assert client.get("/api/v1/agents").status_code == 200
    with CaptureQueriesContext(connection) as queries:
        assert client.get("/api/v1/agents").status_code == 200
    assert _credential_reads(queries) == 0
    provider_credential_save(provider="groq", api_key="gsk-key")
    with CaptureQueriesContext(connection) as queries:
        agents = client.get("/api/v1/agents").json()
    assert _credential_reads(queries) == 1
    llm_agents = [a for a in agents if "llm" in a["statusDetail"]["requirements"]]
    assert llm_agents, "some agents need an LLM provider"
    assert all(a["statusDetail"]["requirements"]["llm"] for a in llm_agents), "the new key shows at once"
