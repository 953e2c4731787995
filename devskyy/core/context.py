"""Per-request context (request id) carried in a contextvar so logs and events see it."""

from __future__ import annotations

import random
import re
from contextvars import ContextVar

request_id_var: ContextVar[str] = ContextVar("request_id", default="-")

_VALID_REQUEST_ID = re.compile(r"^[A-Za-z0-9._:-]{1,128}$")


def new_request_id(incoming: str | None) -> str:
    """Echo a well-formed client request id, otherwise make a new one.

    Client ids end up in our logs, so anything that is not a short token is replaced
    rather than echoed (no log injection through this header).
    """
    if incoming and _VALID_REQUEST_ID.match(incoming):
        return incoming
    # 128 random bits as 32 hex digits, as uuid4().hex wrote them. Not a secret, only
    # unique: Python's generator (reseeded in every forked worker) instead of a system
    # call per request for the operating system's randomness (PERF P1).
    return f"{random.getrandbits(128):032x}"  # noqa: S311


def current_request_id() -> str:
    return request_id_var.get()
