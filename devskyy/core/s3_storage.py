"""The S3-compatible bucket behind ``MEDIA_STORAGE=s3`` (django-storages' S3Storage).

Imported only when Django first opens the default storage (``STORAGES`` names this
class by its path), so boto3 (~50 MB of memory) is loaded only by the processes that
read or write generated files, and only in deployments that use a bucket.

What this adds to S3Storage: bounded network waits (botocore's defaults are 60 s to
connect and 60 s per read, far past a request's budget) and botocore's standard retry
mode (throttling and 5xx answers retried with backoff, up to MEDIA_S3_MAX_ATTEMPTS).
"""

from __future__ import annotations

from typing import Any

from botocore.config import Config
from storages.backends.s3 import S3Storage


class S3MediaStorage(S3Storage):
    def __init__(self, *, connect_timeout: float, read_timeout: float, max_attempts: int, **options: Any) -> None:
        super().__init__(**options)
        self.client_config = Config(
            s3={"addressing_style": self.addressing_style},
            signature_version=self.signature_version,
            connect_timeout=connect_timeout,
            read_timeout=read_timeout,
            retries={"mode": "standard", "max_attempts": max_attempts},
        )
