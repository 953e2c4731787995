"""Fetching images given by callers and outputs named by providers, through the SSRF guard.

Every URL goes through ``devskyy.core.ssrf.safe_fetch`` (public addresses only, pinned,
redirects re-checked, size and time limits). What comes back must be what we expect:
the ``Content-Type`` must announce it and the bytes must start like it (PNG, JPEG, WebP
or a glTF 2.0 binary whose header states the body's length).
"""

from __future__ import annotations

import struct
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from django.conf import settings

from agents_app.media.exceptions import MediaInputError
from devskyy.core.ssrf import OutboundFetchError, safe_fetch

IMAGE_TYPES = {"image/png": "png", "image/jpeg": "jpg", "image/jpg": "jpg", "image/webp": "webp"}
MODEL_TYPES = frozenset({"model/gltf-binary", "application/octet-stream", "binary/octet-stream"})
_EXT_TYPES = {"png": "image/png", "jpg": "image/jpeg", "webp": "image/webp"}


class ContentRejectedError(MediaInputError):
    """The URL answered, but not with an acceptable image or model."""

    code = "media_content_rejected"


@dataclass(frozen=True)
class Fetched:
    content: bytes
    content_type: str
    extension: str  # png, jpg, webp, glb
    host: str


def allowed_addresses() -> list[tuple[str, int]]:
    # Test-only exemption from the SSRF guard; settings never read it from the environment.
    return list(settings.MEDIA_UNSAFE_ALLOWED_ADDRESSES)


def sniff_image(content: bytes) -> str | None:
    if content.startswith(b"\x89PNG\r\n\x1a\n"):
        return "png"
    if content.startswith(b"\xff\xd8\xff"):
        return "jpg"
    if len(content) >= 12 and content[:4] == b"RIFF" and content[8:12] == b"WEBP":
        return "webp"
    return None


def is_glb(content: bytes) -> bool:
    """A glTF 2.0 binary: magic ``glTF``, version 2, total length equal to the body's."""
    if len(content) < 20 or content[:4] != b"glTF":
        return False
    version, length = struct.unpack_from("<II", content, 4)
    return bool(version == 2 and length == len(content))


def _get(url: str, *, max_bytes: int, timeout: float, actor: Any) -> tuple[bytes, str]:
    result = safe_fetch(
        url, max_bytes=max_bytes, timeout=timeout, actor=actor, unsafe_allowed_addresses=allowed_addresses()
    )
    if result.status_code != 200:
        raise OutboundFetchError(
            f"{urlsplit(url).hostname} answered HTTP {result.status_code}.",
            transient=result.status_code in (408, 429) or result.status_code >= 500,
            code="fetch_http_error",
        )
    content_type = str(result.headers.get("content-type", "")).split(";", 1)[0].strip().lower()
    return result.content, content_type


def fetch_image(url: str, *, actor: Any = None, what: str = "image") -> Fetched:
    """A PNG, JPEG or WebP image; raises SSRFBlockedError, OutboundFetchError or ContentRejectedError."""
    content, content_type = _get(
        url, max_bytes=settings.MEDIA_MAX_INPUT_BYTES, timeout=settings.MEDIA_DOWNLOAD_TIMEOUT_SECONDS, actor=actor
    )
    sniffed = sniff_image(content)
    if content_type not in IMAGE_TYPES or sniffed is None:
        raise ContentRejectedError(
            f"The {what} URL did not return a PNG, JPEG or WebP image (Content-Type {content_type or 'none'}).",
            details={"content_type": content_type, "host": urlsplit(url).hostname or ""},
        )
    return Fetched(content, _EXT_TYPES[sniffed], sniffed, urlsplit(url).hostname or "")


def fetch_model(url: str) -> Fetched:
    """A glTF binary (.glb) named by the provider."""
    content, content_type = _get(
        url, max_bytes=settings.MEDIA_MAX_OUTPUT_BYTES, timeout=settings.MEDIA_DOWNLOAD_TIMEOUT_SECONDS, actor=None
    )
    if content_type not in MODEL_TYPES or not is_glb(content):
        raise ContentRejectedError(
            f"The provider's model file is not a glTF binary (Content-Type {content_type or 'none'}).",
            details={"content_type": content_type, "host": urlsplit(url).hostname or ""},
        )
    return Fetched(content, "model/gltf-binary", "glb", urlsplit(url).hostname or "")


def fetch_output_image(url: str) -> Fetched:
    content, content_type = _get(
        url, max_bytes=settings.MEDIA_MAX_OUTPUT_BYTES, timeout=settings.MEDIA_DOWNLOAD_TIMEOUT_SECONDS, actor=None
    )
    sniffed = sniff_image(content)
    if content_type not in IMAGE_TYPES or sniffed is None:
        raise ContentRejectedError(
            f"The provider's image is not a PNG, JPEG or WebP image (Content-Type {content_type or 'none'}).",
            details={"content_type": content_type, "host": urlsplit(url).hostname or ""},
        )
    return Fetched(content, _EXT_TYPES[sniffed], sniffed, urlsplit(url).hostname or "")
