"""Stored secrets (provider API keys, webhook secrets), encrypted at rest."""

from __future__ import annotations

import re
from typing import Any

from django.db import transaction

from devskyy.core.audit import audit_record
from devskyy.core.errors import DomainError, NotFoundError
from devskyy.core.models import CredentialKind, ProviderCredential

_NAME = re.compile(r"^[a-z0-9][a-z0-9_-]{0,63}$")
_MAX_SECRET_CHARS = 4096


@transaction.atomic
def credential_set(
    *, name: str, kind: str, secret: str, description: str = "", actor: Any = None
) -> ProviderCredential:
    """Create or replace the secret called ``name``. The audit row never holds the value."""
    if not _NAME.match(name):
        raise DomainError("A credential name is 1-64 lowercase letters, digits, '-' or '_'.", code="validation_error")
    if kind not in CredentialKind.values:
        raise DomainError(f"Unknown credential kind {kind!r}.", code="validation_error")
    if not secret or len(secret) > _MAX_SECRET_CHARS:
        raise DomainError(f"A secret is 1 to {_MAX_SECRET_CHARS} characters.", code="validation_error")
    credential = ProviderCredential.objects.select_for_update().filter(name=name).first()
    created = credential is None
    if credential is None:
        credential = ProviderCredential(name=name)
    credential.kind = kind
    credential.secret = secret
    credential.description = description
    credential.updated_by = actor if getattr(actor, "pk", None) is not None else None
    credential.full_clean(exclude=["secret"])
    credential.save()
    audit_record(
        action="credential.created" if created else "credential.replaced",
        actor=actor,
        target_type="credential",
        target_id=name,
        details={"kind": kind},
    )
    return credential


@transaction.atomic
def credential_delete(*, name: str, actor: Any = None) -> None:
    deleted, _ = ProviderCredential.objects.filter(name=name).delete()
    if not deleted:
        raise NotFoundError(f"No credential named {name!r}.")
    audit_record(action="credential.deleted", actor=actor, target_type="credential", target_id=name)
