"""``manage.py check_storage`` proves the file store works, or exits non-zero saying which step failed."""

from __future__ import annotations

import io
from pathlib import Path

import pytest
from django.core.management import CommandError, call_command

from tests.agents_app.test_media_storage import _unreachable, bucket  # noqa: F401 - fixture
from tests.support.s3_server import S3Server


def _check() -> str:
    out = io.StringIO()
    call_command("check_storage", stdout=out)
    return out.getvalue()


def test_the_disk_store_is_written_read_and_left_clean(settings, tmp_path: Path) -> None:
    settings.MEDIA_ROOT = str(tmp_path)
    assert _check().startswith(f"File store (disk {tmp_path}): wrote, read back and deleted a probe file")
    assert not [p for p in tmp_path.rglob("*") if p.is_file()]


def test_the_bucket_store_is_written_read_and_left_clean(bucket: S3Server) -> None:  # noqa: F811
    assert _check().startswith(f"File store (bucket {bucket.bucket}): wrote, read back and deleted")
    assert bucket.object_keys() == []


def test_an_unreachable_bucket_fails_naming_the_step(bucket: S3Server, settings) -> None:  # noqa: F811
    settings.STORAGES = _unreachable(settings.STORAGES)
    with pytest.raises(CommandError, match=r"File store \(bucket devskyy-media\): could not write a probe file"):
        _check()
