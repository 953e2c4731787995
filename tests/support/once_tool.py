"""A short tool that records every run of its body in Redis, for the worker-kill test.

Registered when AGENT_EXTRA_TOOL_MODULES names this module (Celery workers started by
tests) or when a test imports it. Each run appends ``<task id>:<attempt>:<pid>`` to
``<key>:starts`` when the body begins and to ``<key>:ends`` when it is about to
return, so a test can count, per task, how many bodies ran and which attempt's body
finished: a double completion shows as two entries, it is never merged away.
"""

from __future__ import annotations

import os
import time
from typing import Any

import redis
from django.conf import settings

from agents_app.tools.base import ToolContext, register

_clients: dict[str, redis.Redis] = {}


def _client() -> redis.Redis:
    url = settings.REDIS_URL
    if url not in _clients:
        _clients[url] = redis.Redis.from_url(url)
    return _clients[url]


@register(
    "test_exactly_once",
    description="Test only: a short body (one checkpoint) whose starts and ends are logged in Redis.",
    category="operations",
    schema={
        "properties": {
            "seconds": {"type": "number", "minimum": 0, "maximum": 5},
            "key": {"type": "string", "minLength": 1, "maxLength": 100},
        },
        "required": ["seconds", "key"],
    },
)
def exactly_once(ctx: ToolContext, params: dict[str, Any]) -> dict[str, Any]:
    mark = f"{ctx.task_id}:{getattr(ctx, 'attempt', 0)}:{os.getpid()}"
    client = _client()
    client.rpush(f"{params['key']}:starts", mark)
    ctx.checkpoint(50)
    time.sleep(params["seconds"])
    client.rpush(f"{params['key']}:ends", mark)
    return {"mark": mark}
