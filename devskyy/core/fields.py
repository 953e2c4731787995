"""Model fields that keep their values encrypted at rest.

``EncryptedTextField`` stores ``v1:<key id>:<base64>`` (devskyy/core/encryption.py)
and hands Python code the plaintext. Values are sealed with AES-256-GCM under a key
derived from ENCRYPTION_MASTER_KEY; previous master keys listed in
ENCRYPTION_PREVIOUS_KEYS stay readable, and ``manage.py rotate_encryption_key``
re-encrypts every such field of every model under the current key.

The ciphertext is randomised (fresh nonce per write), so the column cannot be
searched or compared: only ``isnull`` lookups are allowed.
"""

from __future__ import annotations

from typing import Any

from django.db import models
from django.db.models.lookups import IsNull

from devskyy.core import encryption


class EncryptedTextField(models.TextField):  # type: ignore[type-arg]
    description = "Text encrypted at rest (AES-256-GCM, rotatable key)"

    def from_db_value(self, value: str | None, expression: Any, connection: Any) -> str | None:
        if value is None:
            return None
        # Tampered or unknown-key values raise DecryptionError: never hand out garbage.
        return encryption.decrypt(value)

    def get_prep_value(self, value: Any) -> str | None:
        value = super().get_prep_value(value)
        if value is None:
            return None
        return encryption.encrypt(str(value))

    def get_lookup(self, lookup_name: str) -> Any:
        if lookup_name != "isnull":
            return None  # Django then raises FieldError: "Unsupported lookup"
        return IsNull

    def value_to_string(self, obj: models.Model) -> str:
        # Serialisation (dumpdata, admin history) never carries the plaintext.
        return "[encrypted]"
