"""A local S3 server for ``MEDIA_STORAGE=s3``, on loopback only.

moto's server speaks the S3 REST API (the same requests AWS, R2 or MinIO answer), so the
platform's own storage class (devskyy/core/s3_storage.py, django-storages and boto3)
runs unchanged against it. ``s3_server()`` starts one on a free port with an empty
private bucket; ``env`` is what a worker process needs to use it, ``storages`` what a
test's ``settings`` need (built from that environment by the settings' own
``s3_storage``), ``object_keys()`` lists the stored object keys.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import boto3
import httpx
from moto.server import ThreadedMotoServer

from devskyy.core.env import Env
from devskyy.core.s3_config import s3_storage

ACCESS_KEY = "devskyy-test-key"
SECRET_KEY = "devskyy-test-secret"  # noqa: S105 - a local test server's credential
REGION = "us-east-1"


@dataclass
class S3Server:
    server: ThreadedMotoServer
    url: str
    bucket: str
    prefix: str

    @property
    def env(self) -> dict[str, str]:
        return {
            "MEDIA_STORAGE": "s3",
            "MEDIA_S3_BUCKET": self.bucket,
            "MEDIA_S3_ENDPOINT_URL": self.url,
            "MEDIA_S3_REGION": REGION,
            "MEDIA_S3_ACCESS_KEY_ID": ACCESS_KEY,
            "MEDIA_S3_SECRET_ACCESS_KEY": SECRET_KEY,
            "MEDIA_S3_PREFIX": self.prefix,
        }

    def storages(self, current: dict[str, Any]) -> dict[str, Any]:
        # Short waits and one attempt: the outage tests point at a closed port.
        quick = {
            "MEDIA_S3_CONNECT_TIMEOUT_SECONDS": "1",
            "MEDIA_S3_READ_TIMEOUT_SECONDS": "5",
            "MEDIA_S3_MAX_ATTEMPTS": "1",
        }
        return {**current, "default": s3_storage(Env({**self.env, **quick}))}

    def client(self) -> Any:
        return boto3.client(
            "s3",
            endpoint_url=self.url,
            aws_access_key_id=ACCESS_KEY,
            aws_secret_access_key=SECRET_KEY,
            region_name=REGION,
        )

    def object_keys(self) -> list[str]:
        listing = self.client().list_objects_v2(Bucket=self.bucket)
        return sorted(item["Key"] for item in listing.get("Contents", []))


@contextmanager
def s3_server(bucket: str = "devskyy-media", prefix: str = "media") -> Iterator[S3Server]:
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    s3 = S3Server(server, f"http://{host}:{port}", bucket, prefix)
    try:
        # moto keeps its buckets per process, not per server: start from none.
        httpx.post(f"{s3.url}/moto-api/reset", timeout=10).raise_for_status()
        s3.client().create_bucket(Bucket=bucket)
        yield s3
    finally:
        server.stop()
