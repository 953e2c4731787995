"""Authenticated encryption for secrets stored in the database.

Ciphertext format: ``v1:<key id>:<base64(nonce || AES-256-GCM ciphertext+tag)>``.
The data key is derived from ENCRYPTION_MASTER_KEY with HKDF-SHA256; the key id is a
short fingerprint of the derived key, so a value names the key that wrote it and
rotation can read old values while re-encrypting them under the new key.
"""

from __future__ import annotations

import base64
import hashlib
import os
from dataclasses import dataclass
from functools import lru_cache

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from django.conf import settings

_VERSION = "v1"
_NONCE_BYTES = 12
_HKDF_INFO = b"devskyy:secrets:v1"


class DecryptionError(Exception):
    """The value was tampered with, is malformed, or was written under an unknown key."""


@dataclass(frozen=True)
class DataKey:
    key_id: str
    aead: AESGCM


@lru_cache(maxsize=8)
def derive_key(master_key: str) -> DataKey:
    material = HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=_HKDF_INFO).derive(master_key.encode())
    key_id = hashlib.sha256(b"devskyy:key-id:" + material).hexdigest()[:12]
    return DataKey(key_id=key_id, aead=AESGCM(material))


def current_key() -> DataKey:
    return derive_key(settings.ENCRYPTION_MASTER_KEY)


def readable_keys() -> dict[str, DataKey]:
    """The current key plus previous keys kept readable during a rotation."""
    keys = [current_key()] + [derive_key(k) for k in getattr(settings, "ENCRYPTION_PREVIOUS_KEYS", [])]
    return {key.key_id: key for key in keys}


def encrypt(plaintext: str, *, key: DataKey | None = None) -> str:
    key = key or current_key()
    nonce = os.urandom(_NONCE_BYTES)
    sealed = key.aead.encrypt(nonce, plaintext.encode(), f"{_VERSION}:{key.key_id}".encode())
    return f"{_VERSION}:{key.key_id}:{base64.urlsafe_b64encode(nonce + sealed).decode()}"


def key_id_of(token: str) -> str:
    parts = token.split(":", 2)
    if len(parts) != 3 or parts[0] != _VERSION:
        raise DecryptionError("not a DevSkyy ciphertext")
    return parts[1]


def decrypt(token: str) -> str:
    key_id = key_id_of(token)
    key = readable_keys().get(key_id)
    if key is None:
        raise DecryptionError(f"value was encrypted under key {key_id}, which is not configured")
    try:
        blob = base64.urlsafe_b64decode(token.split(":", 2)[2].encode())
        plaintext = key.aead.decrypt(blob[:_NONCE_BYTES], blob[_NONCE_BYTES:], f"{_VERSION}:{key_id}".encode())
    except (InvalidTag, ValueError) as exc:
        raise DecryptionError("ciphertext failed authentication") from exc
    return plaintext.decode()


def self_test() -> str:
    """Round-trip a random value through the current key; returns the key id."""
    probe = base64.b16encode(os.urandom(8)).decode()
    token = encrypt(probe)
    if decrypt(token) != probe:  # pragma: no cover - AES-GCM either works or raises
        raise DecryptionError("round trip returned a different value")
    return key_id_of(token)
