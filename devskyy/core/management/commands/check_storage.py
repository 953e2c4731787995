"""``manage.py check_storage``: store, read and delete one probe file in the file store."""

from __future__ import annotations

import secrets
import time
from typing import Any

from django.conf import settings
from django.core.files.base import ContentFile
from django.core.files.storage import default_storage
from django.core.management.base import BaseCommand, CommandError

from devskyy.core.storage import (
    StorageUnavailableError,
    record_bucket_outcome,
    storage_errors,
    stored_file_delete,
    stored_file_open,
)


class Command(BaseCommand):
    help = (
        "Check the store of generated files (MEDIA_STORAGE: the disk under MEDIA_ROOT or the S3 bucket): "
        "write a small probe file, read it back, delete it. Non-zero exit when any step fails."
    )

    def handle(self, *args: Any, **options: Any) -> None:
        where = (
            f"bucket {default_storage.bucket_name}"  # type: ignore[attr-defined]
            if settings.MEDIA_STORAGE == "s3"
            else f"disk {settings.MEDIA_ROOT}"
        )
        content = secrets.token_bytes(32)
        step = "write"
        started = time.monotonic()
        failures: tuple[type[BaseException], ...] = (StorageUnavailableError, *storage_errors())
        try:
            name = default_storage.save(f"devskyy-check/{secrets.token_hex(8)}.bin", ContentFile(content))
            step = "read"
            handle = stored_file_open(name)  # as downloads read
            try:
                if handle.read() != content:
                    raise CommandError(f"File store ({where}): the probe read back differs from what was written.")
            finally:
                handle.close()
            step = "delete"
            stored_file_delete(name)
        except failures as exc:
            cause = exc.__cause__ if isinstance(exc, StorageUnavailableError) and exc.__cause__ else exc
            record_bucket_outcome(f"{step} a probe file (check_storage)", cause)
            raise CommandError(
                f"File store ({where}): could not {step} a probe file: {type(cause).__name__}: {cause}"
            ) from exc
        record_bucket_outcome("write, read back and delete a probe file (check_storage)")
        elapsed_ms = (time.monotonic() - started) * 1000
        self.stdout.write(f"File store ({where}): wrote, read back and deleted a probe file in {elapsed_ms:.0f} ms.")
