"""The S3-compatible bucket behind ``MEDIA_STORAGE=s3`` (django-storages' S3Storage).

Imported only when Django first opens the default storage (``STORAGES`` names this
class by its path), so boto3 (~50 MB of memory) is loaded only by the processes that
read or write generated files, and only in deployments that use a bucket.

What this adds to S3Storage:
- bounded network waits (botocore's defaults are 60 s to connect and 60 s per read, far
  past a request's budget) and botocore's standard retry mode (throttling and 5xx
  answers retried with backoff, up to MEDIA_S3_MAX_ATTEMPTS);
- ``open_stream``: an object read as it is sent. S3Storage's ``open`` first copies the
  whole object into a spooled buffer held in memory, so a 100 MB model download would
  hold 100 MB in the web worker before its first byte.
"""

from __future__ import annotations

from typing import Any

from botocore.config import Config
from botocore.exceptions import ClientError
from storages.backends.s3 import S3Storage
from storages.utils import clean_name


class ObjectStream:
    """A stored object's body, read in pieces from the open HTTP response (file-like:
    ``read`` and ``close``, as FileResponse wants); ``size`` is its length in bytes."""

    def __init__(self, body: Any, size: int) -> None:
        self._body = body
        self.size = size

    def read(self, amount: int = -1) -> bytes:
        data: bytes = self._body.read(None if amount < 0 else amount)  # bytes already: no copy
        return data

    def close(self) -> None:
        self._body.close()


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

    def open_stream(self, name: str) -> ObjectStream:
        """The object ``name``, unread: one GET whose body is read as the caller reads.
        FileNotFoundError if there is no such object."""
        key = self._normalize_name(clean_name(name))
        try:
            answer = self.bucket.meta.client.get_object(Bucket=self.bucket_name, Key=key)
        except ClientError as exc:
            if exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode") == 404:
                raise FileNotFoundError(f"No such object: {key}") from None
            raise
        return ObjectStream(answer["Body"], int(answer["ContentLength"]))
