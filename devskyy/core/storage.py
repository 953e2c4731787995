"""Calls to the default storage (generated files), whatever its backend.

The embedded platform keeps files on disk; production in an S3-compatible bucket
(``MEDIA_STORAGE``, devskyy/settings/base.py). Either can fail: a full disk, a bucket
that cannot be reached. Such failures become ``StorageUnavailableError`` (503
``storage_unavailable``) instead of a 500; a file that is not there stays a
``FileNotFoundError`` for the caller to name.
"""

from __future__ import annotations

import contextlib
import logging
import os
import time
from collections.abc import Iterator
from typing import Any

from django.conf import settings
from django.core.cache import cache
from django.core.files.storage import FileSystemStorage, Storage, default_storage
from django.http import FileResponse

from devskyy.core.errors import ServiceUnavailableError

logger = logging.getLogger(__name__)


class StorageUnavailableError(ServiceUnavailableError):
    code = "storage_unavailable"


def storage_errors() -> tuple[type[Exception], ...]:
    """What the default storage raises when it cannot be reached or written: OSError for
    the disk, botocore's errors for a bucket (botocore is imported only then)."""
    if settings.MEDIA_STORAGE != "s3":
        return (OSError,)
    from botocore.exceptions import BotoCoreError, ClientError

    return (OSError, BotoCoreError, ClientError)


# The outcome of the last operation on the bucket, for /health (health_app/checks.py).
BUCKET_OUTCOME_KEY = "devskyy:storage:last-bucket-operation"


def record_bucket_outcome(what: str, error: BaseException | None = None) -> None:
    """Remember how the last operation on the bucket went (MEDIA_STORAGE=s3), in the
    shared cache, for /health: it does not reach the bucket itself, because boto3 costs
    every process that loads it ~50 MB (PERF P6) and /health is polled by every web
    worker. Written on every outcome: bucket operations are few (a job's outputs, a
    theme, a download), each already a network round trip. Nothing for a disk store,
    which /health checks directly. ``what`` completes "could not ...".
    """
    if settings.MEDIA_STORAGE != "s3":
        return
    outcome: dict[str, Any] = {"ok": error is None, "at": time.time(), "operation": what}
    if error is not None:
        outcome["error"] = f"{type(error).__name__}: {error}"[:300]
    cache.set(BUCKET_OUTCOME_KEY, outcome, timeout=None)


def bucket_outcome() -> dict[str, Any] | None:
    """The last outcome :func:`record_bucket_outcome` kept, if any."""
    found = cache.get(BUCKET_OUTCOME_KEY)
    return found if isinstance(found, dict) else None


@contextlib.contextmanager
def storage_call(what: str) -> Iterator[None]:
    """Run storage operations; a store that fails becomes StorageUnavailableError.
    ``what`` completes "The file store could not ..." (e.g. "store the theme")."""
    try:
        yield
    except FileNotFoundError:
        record_bucket_outcome(what)  # the store answered: the file is not there
        raise
    except storage_errors() as exc:
        logger.warning("file store: could not %s: %s", what, exc)
        record_bucket_outcome(what, exc)
        raise StorageUnavailableError(f"The file store could not {what}; try again shortly.") from exc
    record_bucket_outcome(what)


def stored_file_open(name: str, storage: Storage | None = None) -> Any:
    """The stored file ``name`` opened for reading (``read``, ``close``, ``size``): a file
    on disk, or a bucket object read in pieces as the caller reads (``open_stream``; never
    buffered whole in the process). FileNotFoundError if the store has no such file;
    StorageUnavailableError if the store cannot be reached."""
    store = default_storage if storage is None else storage
    with storage_call("read the file"):
        open_stream = getattr(store, "open_stream", None)
        return store.open(name, "rb") if open_stream is None else open_stream(name)


def stored_file_response(
    name: str,
    *,
    filename: str,
    content_type: str | None = None,
    storage: Storage | None = None,
) -> FileResponse:
    """A download (attachment) of the stored file ``name``, sent as it is read; the errors
    of ``stored_file_open``."""
    handle = stored_file_open(name, storage)
    response = FileResponse(handle, as_attachment=True, filename=filename, content_type=content_type)
    response["Content-Length"] = str(handle.size)  # FileResponse cannot measure a stream
    return response


def stored_file_delete(name: str) -> None:
    """Delete ``name`` from the default storage (gone already: nothing to do). On disk,
    its folder goes too once empty, so per-job folders do not pile up; a bucket has none."""
    default_storage.delete(name)
    if isinstance(default_storage, FileSystemStorage):
        folder = os.path.dirname(default_storage.path(name))
        if os.path.abspath(folder) != os.path.abspath(default_storage.location):
            with contextlib.suppress(OSError):  # not empty: another file still lives there
                os.rmdir(folder)
