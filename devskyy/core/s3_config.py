"""The default-storage entry for ``MEDIA_STORAGE=s3``, built from the environment.

Used by the settings (devskyy/settings/base.py) and by the tests' local S3 server, so
both configure the bucket the same way. Imports nothing but the environment reader:
the settings load it.
"""

from __future__ import annotations

from typing import Any

from devskyy.core.env import Env


def s3_storage(env: Env) -> dict[str, Any]:
    """``STORAGES["default"]`` for an S3-compatible bucket (devskyy/core/s3_storage.py)."""
    return {
        "BACKEND": "devskyy.core.s3_storage.S3MediaStorage",
        "OPTIONS": {
            "bucket_name": env.required_str("MEDIA_S3_BUCKET", why="when MEDIA_STORAGE=s3"),
            # Empty: AWS itself; otherwise the provider's S3 endpoint (R2, MinIO, Backblaze).
            "endpoint_url": env.url("MEDIA_S3_ENDPOINT_URL", schemes=("https", "http")) or None,
            "region_name": env.str("MEDIA_S3_REGION") or None,
            # Empty: boto3's own chain (AWS_ACCESS_KEY_ID..., an instance role).
            "access_key": env.str("MEDIA_S3_ACCESS_KEY_ID") or None,
            "secret_key": env.str("MEDIA_S3_SECRET_ACCESS_KEY") or None,
            "location": env.str("MEDIA_S3_PREFIX").strip("/"),
            "addressing_style": env.choice("MEDIA_S3_ADDRESSING_STYLE", "auto", ("auto", "path", "virtual")),
            "signature_version": "s3v4",
            # Objects stay private: files are served only by the authenticated endpoints.
            "default_acl": None,
            # Never replace an object: a second file of the same name gets a suffix, as on disk.
            "file_overwrite": False,
            "connect_timeout": env.float("MEDIA_S3_CONNECT_TIMEOUT_SECONDS", 5.0, minimum=0.1, maximum=60.0),
            "read_timeout": env.float("MEDIA_S3_READ_TIMEOUT_SECONDS", 30.0, minimum=0.1, maximum=600.0),
            "max_attempts": env.int("MEDIA_S3_MAX_ATTEMPTS", 3, minimum=1, maximum=10),
        },
    }
