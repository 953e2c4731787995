from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from devskyy.core.encryption import DecryptionError, current_key
from devskyy.core.key_rotation import encryption_rotate, key_usage


class Command(BaseCommand):
    help = (
        "Re-encrypt every encrypted field under the current ENCRYPTION_MASTER_KEY. Takes no key as input: "
        "set the new key as ENCRYPTION_MASTER_KEY and the old one in ENCRYPTION_PREVIOUS_KEYS first "
        "(README: Encryption key rotation)."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--batch-size", type=int, default=200, help="rows per transaction (default 200)")
        parser.add_argument("--check", action="store_true", help="only report how many values each key id holds")

    def _report_usage(self) -> int:
        current = current_key().key_id
        stale = 0
        for label, counts in key_usage().items():
            parts = ", ".join(
                f"{key_id}{' (current)' if key_id == current else ''}: {n}" for key_id, n in counts.items()
            )
            self.stdout.write(f"{label}: {parts or 'no values'}")
            stale += sum(n for key_id, n in counts.items() if key_id != current)
        return stale

    def handle(self, *args: Any, **options: Any) -> None:
        if options["batch_size"] < 1:
            raise CommandError("--batch-size must be at least 1.")
        self.stdout.write(f"Current key id: {current_key().key_id}")
        try:
            if options["check"]:
                stale = self._report_usage()
                self.stdout.write(f"{stale} value(s) still under an older key.")
                return
            report = encryption_rotate(batch_size=options["batch_size"])
        except DecryptionError as exc:
            raise CommandError(
                f"A stored value cannot be decrypted ({exc}); is its old key listed in ENCRYPTION_PREVIOUS_KEYS?"
            ) from exc
        for label in sorted(set(report.rewritten) | set(report.already_current)):
            self.stdout.write(
                f"{label}: re-encrypted {report.rewritten[label]}, already current {report.already_current[label]}"
            )
        self.stdout.write(
            self.style.SUCCESS(
                f"Re-encrypted {report.total_rewritten} value(s) under key {report.key_id}. "
                "Once every instance runs with this key, remove the old one from ENCRYPTION_PREVIOUS_KEYS."
            )
        )
