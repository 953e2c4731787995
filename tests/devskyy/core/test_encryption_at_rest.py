"""Encrypted fields: round trip, tamper detection, key rotation, and no plaintext leaks."""

from __future__ import annotations

from io import StringIO

import pytest
from django.core import serializers
from django.core.exceptions import FieldError
from django.core.management import call_command
from django.db import connection
from django.test import Client, override_settings

from devskyy.core import encryption
from devskyy.core.accounts import operator_create
from devskyy.core.credentials import credential_set
from devskyy.core.encryption import DecryptionError
from devskyy.core.models import AuditLog, ProviderCredential
from devskyy.core.selectors import credential_secret

pytestmark = pytest.mark.django_db

OLD_KEY = "old-master-key-" + "o" * 40
NEW_KEY = "new-master-key-" + "n" * 40


def _raw(name: str) -> str:
    with connection.cursor() as cursor:
        cursor.execute("SELECT secret FROM core_providercredential WHERE name = %s", [name])
        return str(cursor.fetchone()[0])


def _set_raw(name: str, value: str) -> None:
    with connection.cursor() as cursor:
        cursor.execute("UPDATE core_providercredential SET secret = %s WHERE name = %s", [value, name])


def test_a_secret_is_stored_encrypted_and_read_back_in_plaintext() -> None:
    credential_set(name="openai", kind="llm_api_key", secret="sk-live-very-secret-value")
    raw = _raw("openai")
    assert raw.startswith(f"v1:{encryption.current_key().key_id}:")
    assert "sk-live-very-secret-value" not in raw
    assert credential_secret("openai") == "sk-live-very-secret-value"
    assert credential_secret("missing") is None
    # Same plaintext twice gives different ciphertexts (fresh nonce).
    credential_set(name="openai", kind="llm_api_key", secret="sk-live-very-secret-value")
    assert _raw("openai") != raw
    audit = AuditLog.objects.filter(target_id="openai").order_by("id")
    assert [a.action for a in audit] == ["credential.created", "credential.replaced"]
    assert all("sk-live" not in str(a.details) for a in audit)


def test_tampered_ciphertext_is_rejected() -> None:
    credential_set(name="hook", kind="webhook_secret", secret="whsec-123456")
    raw = _raw("hook")
    head, body = raw.rsplit(":", 1)
    flipped = body[:20] + ("A" if body[20] != "A" else "B") + body[21:]
    _set_raw("hook", f"{head}:{flipped}")
    with pytest.raises(DecryptionError, match="authentication"):
        ProviderCredential.objects.get(name="hook")
    # The key id is bound to the ciphertext too: relabelling a value is caught.
    _set_raw("hook", raw.replace(encryption.current_key().key_id, "0" * 12))
    with pytest.raises(DecryptionError, match="not configured"):
        ProviderCredential.objects.get(name="hook")


def test_encrypted_columns_cannot_be_searched() -> None:
    with pytest.raises(FieldError):
        list(ProviderCredential.objects.filter(secret="x"))
    assert list(ProviderCredential.objects.filter(secret__isnull=True)) == []


def test_serialisation_never_carries_the_plaintext() -> None:
    credential_set(name="tripo", kind="provider_token", secret="tripo-token-abc")
    dumped = serializers.serialize("json", ProviderCredential.objects.all())
    assert "tripo-token-abc" not in dumped
    assert "[encrypted]" in dumped


def test_rotation_reencrypts_every_row_while_old_values_stay_readable() -> None:
    old_id = encryption.derive_key(OLD_KEY).key_id
    new_id = encryption.derive_key(NEW_KEY).key_id
    names = [f"svc{i}" for i in range(5)]
    with override_settings(ENCRYPTION_MASTER_KEY=OLD_KEY, ENCRYPTION_PREVIOUS_KEYS=[]):
        for name in names:
            credential_set(name=name, kind="provider_token", secret=f"secret-of-{name}")
    assert {_raw(n).split(":")[1] for n in names} == {old_id}

    with override_settings(ENCRYPTION_MASTER_KEY=NEW_KEY, ENCRYPTION_PREVIOUS_KEYS=[OLD_KEY]):
        # Deployed with both keys: old rows read fine, new writes use the new key.
        credential_set(name="svc-new", kind="provider_token", secret="secret-of-svc-new")
        assert _raw("svc-new").split(":")[1] == new_id
        assert {c.name: c.secret for c in ProviderCredential.objects.all()} == {
            n: f"secret-of-{n}" for n in [*names, "svc-new"]
        }
        out = StringIO()
        call_command("rotate_encryption_key", "--check", stdout=out)
        assert f"{old_id}: 5" in out.getvalue()
        assert "5 value(s) still under an older key" in out.getvalue()

        out = StringIO()
        call_command("rotate_encryption_key", "--batch-size", "2", stdout=out)
        text = out.getvalue()
        assert "core.ProviderCredential.secret: re-encrypted 5, already current 1" in text
        assert {_raw(n).split(":")[1] for n in [*names, "svc-new"]} == {new_id}
        rotated = AuditLog.objects.get(action="encryption.rotated")
        assert rotated.details["rewritten"] == {"core.ProviderCredential.secret": 5}

        again = StringIO()
        call_command("rotate_encryption_key", stdout=again)
        assert "Re-encrypted 0 value(s)" in again.getvalue()
        for secret in (OLD_KEY, NEW_KEY):
            assert secret not in text
            assert secret not in again.getvalue()

    with override_settings(ENCRYPTION_MASTER_KEY=NEW_KEY, ENCRYPTION_PREVIOUS_KEYS=[]):
        # Old key removed: everything is still readable.
        assert credential_secret("svc3") == "secret-of-svc3"


def test_rotation_without_the_old_key_fails_clearly_and_changes_nothing() -> None:
    with override_settings(ENCRYPTION_MASTER_KEY=OLD_KEY, ENCRYPTION_PREVIOUS_KEYS=[]):
        credential_set(name="orphan", kind="provider_token", secret="lost")
    before = _raw("orphan")
    with override_settings(ENCRYPTION_MASTER_KEY=NEW_KEY, ENCRYPTION_PREVIOUS_KEYS=[]):
        from django.core.management import CommandError

        with pytest.raises(CommandError, match="ENCRYPTION_PREVIOUS_KEYS"):
            call_command("rotate_encryption_key", stdout=StringIO())
    assert _raw("orphan") == before


def test_admin_never_renders_a_stored_secret_and_blank_keeps_it(settings) -> None:
    credential_set(name="woo", kind="webhook_secret", secret="woo-hook-secret-xyz")
    operator = operator_create(username="ops")
    client = Client()
    client.force_login(operator.user)  # type: ignore[arg-type]
    base = f"/{settings.ADMIN_URL}core/providercredential/"
    credential = ProviderCredential.objects.get(name="woo")
    page = client.get(f"{base}{credential.pk}/change/")
    assert page.status_code == 200
    assert b"woo-hook-secret-xyz" not in page.content
    assert settings.ENCRYPTION_MASTER_KEY.encode() not in page.content
    listing = client.get(base)
    assert b"woo-hook-secret-xyz" not in listing.content

    client.post(f"{base}{credential.pk}/change/", {"kind": "webhook_secret", "description": "shop", "new_secret": ""})
    assert credential_secret("woo") == "woo-hook-secret-xyz"
    assert ProviderCredential.objects.get(name="woo").description == "shop"
    client.post(f"{base}{credential.pk}/change/", {"kind": "webhook_secret", "description": "", "new_secret": "v2"})
    assert credential_secret("woo") == "v2"

    refused = client.post(f"{base}add/", {"name": "empty", "kind": "webhook_secret", "new_secret": ""})
    assert refused.status_code == 200  # the form again
    assert not ProviderCredential.objects.filter(name="empty").exists()
