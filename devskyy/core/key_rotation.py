"""Re-encrypt every encrypted field of every model under the current master key.

Procedure (README, "Encryption key rotation"): put the old master key in
ENCRYPTION_PREVIOUS_KEYS, set the new one as ENCRYPTION_MASTER_KEY, deploy (both keys
readable everywhere, new writes use the new key), run ``manage.py
rotate_encryption_key``, then remove the old key. The command never takes a key as
input: it only moves values to the key the running configuration already uses.

Rows are processed in primary-key batches, each in its own short transaction with
the rows locked, so the platform keeps serving (and writing) during a rotation and a
concurrent update is never overwritten with a stale value.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from typing import Any

from django.apps import apps
from django.db import models, transaction
from django.db.models.functions import Cast

from devskyy.core import encryption
from devskyy.core.audit import audit_record
from devskyy.core.fields import EncryptedTextField

_RAW = "_devskyy_raw_ciphertext"


@dataclass
class RotationReport:
    key_id: str
    rewritten: Counter[str] = field(default_factory=Counter)  # "app.Model.field" -> rows re-encrypted
    already_current: Counter[str] = field(default_factory=Counter)

    @property
    def total_rewritten(self) -> int:
        return sum(self.rewritten.values())


def encrypted_fields() -> list[tuple[type[models.Model], EncryptedTextField]]:
    """Every (model, field) stored with ``EncryptedTextField``, in any installed app."""
    found: list[tuple[type[models.Model], EncryptedTextField]] = []
    for model in apps.get_models():
        for model_field in model._meta.concrete_fields:
            if isinstance(model_field, EncryptedTextField):
                found.append((model, model_field))
    return found


def _raw_values(model: type[models.Model], field_name: str) -> Any:
    # Cast to a plain TextField: the value comes back as stored, not decrypted.
    return model._default_manager.annotate(**{_RAW: Cast(field_name, models.TextField())})


def key_usage() -> dict[str, Counter[str]]:
    """Rows per key id for every encrypted field (what still needs the old key)."""
    usage: dict[str, Counter[str]] = {}
    for model, model_field in encrypted_fields():
        label = f"{model._meta.label}.{model_field.name}"
        counts: Counter[str] = Counter()
        for raw in (
            _raw_values(model, model_field.name)
            .exclude(**{f"{model_field.name}__isnull": True})
            .values_list(_RAW, flat=True)
        ):
            counts[encryption.key_id_of(raw)] += 1
        usage[label] = counts
    return usage


def encryption_rotate(*, batch_size: int = 200, actor: Any = None) -> RotationReport:
    """Re-encrypt every value not yet under the current key. Safe to run again."""
    if batch_size < 1:
        raise ValueError("batch_size must be at least 1")
    current = encryption.current_key().key_id
    report = RotationReport(key_id=current)
    for model, model_field in encrypted_fields():
        label = f"{model._meta.label}.{model_field.name}"
        name = model_field.name
        last_pk: Any = None
        while True:
            with transaction.atomic():
                batch = _raw_values(model, name).exclude(**{f"{name}__isnull": True}).order_by("pk")
                if last_pk is not None:
                    batch = batch.filter(pk__gt=last_pk)
                rows = list(batch.select_for_update().values_list("pk", _RAW)[:batch_size])
                if not rows:
                    break
                for pk, raw in rows:
                    if encryption.key_id_of(raw) == current:
                        report.already_current[label] += 1
                        continue
                    plaintext = encryption.decrypt(raw)
                    # Field-level update: get_prep_value encrypts under the current key.
                    model._default_manager.filter(pk=pk).update(**{name: plaintext})
                    report.rewritten[label] += 1
                last_pk = rows[-1][0]
    audit_record(
        action="encryption.rotated",
        actor=actor,
        actor_label="" if actor is not None else "system",
        target_type="encryption_key",
        target_id=current,
        details={"rewritten": dict(report.rewritten), "already_current": dict(report.already_current)},
    )
    return report
