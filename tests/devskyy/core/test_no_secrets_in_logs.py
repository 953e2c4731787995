"""No secret ever reaches a log line: passwords, tokens, API keys, signing and master keys."""

from __future__ import annotations

import json
import logging
import re
from io import StringIO
from typing import Any

import pytest
from django.conf import settings
from django.core.management import call_command
from django.test import Client, override_settings

from devskyy.core.credentials import credential_set
from tests.support.auth import PASSWORD, make_user

pytestmark = pytest.mark.django_db


def _post(client: Client, path: str, body: dict, **headers: Any):
    return client.post(path, data=json.dumps(body), content_type="application/json", **headers)


@override_settings(AXES_FAILURE_LIMIT=2)
def test_auth_flows_log_no_secret(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    user = make_user()
    client = Client()
    # Failures (including a lockout), a login, refresh, reuse, logout, API key use.
    _post(client, "/api/v1/auth/token", {"username": user.username, "password": "wrong-" + PASSWORD})
    _post(client, "/api/v1/auth/token", {"username": "someone-else", "password": PASSWORD + "-typo"})
    pair = _post(
        Client(REMOTE_ADDR="10.2.2.2"), "/api/v1/auth/token", {"username": user.username, "password": PASSWORD}
    ).json()
    rotated = _post(client, "/api/v1/auth/refresh", {"refresh": pair["refresh"]}).json()
    _post(client, "/api/v1/auth/refresh", {"refresh": pair["refresh"]})
    _post(
        client, "/api/v1/auth/logout", {"refresh": rotated["refresh"]}, HTTP_AUTHORIZATION=f"Bearer {rotated['access']}"
    )
    out = StringIO()
    call_command("create_api_key", "--name", "logger", "--role", "api_user", stdout=out)
    api_key = re.search(r"store it now\): (\S+)", out.getvalue())
    assert api_key is not None
    client.get("/api/v1/auth/me", HTTP_X_API_KEY=api_key.group(1))
    client.get("/api/v1/auth/me", HTTP_X_API_KEY=api_key.group(1)[:-1] + "x")
    credential_set(name="openai", kind="llm_api_key", secret="sk-provider-secret-000")

    text = "\n".join(f"{r.getMessage()} {r.args!r} {getattr(r, '__dict__', {})!r}" for r in caplog.records)
    assert "POST /api/v1/auth/token" in text, "no request lines captured: the check would be empty"
    secrets = [
        PASSWORD,
        "wrong-" + PASSWORD,
        PASSWORD + "-typo",
        pair["access"],
        pair["refresh"],
        rotated["access"],
        rotated["refresh"],
        api_key.group(1),
        api_key.group(1).split(".", 1)[1],
        "sk-provider-secret-000",
        settings.JWT_SECRET_KEY,
        settings.ENCRYPTION_MASTER_KEY,
        settings.SECRET_KEY,
    ]
    for secret in secrets:
        assert secret not in text
