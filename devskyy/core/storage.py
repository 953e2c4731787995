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
from collections.abc import Iterator

from django.conf import settings

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


@contextlib.contextmanager
def storage_call(what: str) -> Iterator[None]:
    """Run storage operations; a store that fails becomes StorageUnavailableError.
    ``what`` completes "The file store could not ..." (e.g. "store the theme")."""
    try:
        yield
    except FileNotFoundError:
        raise
    except storage_errors() as exc:
        logger.warning("file store: could not %s: %s", what, exc)
        raise StorageUnavailableError(f"The file store could not {what}; try again shortly.") from exc
