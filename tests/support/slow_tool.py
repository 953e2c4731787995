"""A slow tool with checkpoints and external side-effect counters, for worker-kill tests.

Registered when AGENT_EXTRA_TOOL_MODULES names this module (servers and workers
started by tests) or when a test imports it. Counters live in Redis (``<key>:starts``,
``<key>:completions``), outside the database the task row lives in.
"""

from __future__ import annotations

import time
from typing import Any

import redis
from django.conf import settings

from agents_app.tools.base import ToolContext, register


@register(
    "test_slow_counter",
    description="Test only: sleeps through N checkpoints, counting starts and completions in Redis.",
    category="operations",
    schema={
        "properties": {
            "steps": {"type": "integer", "minimum": 1, "maximum": 200},
            "step_seconds": {"type": "number", "minimum": 0, "maximum": 5},
            "counter_key": {"type": "string", "minLength": 1, "maxLength": 100},
        },
        "required": ["steps", "step_seconds", "counter_key"],
    },
)
def slow_counter(ctx: ToolContext, params: dict[str, Any]) -> dict[str, Any]:
    client = redis.Redis.from_url(settings.REDIS_URL)
    key = params["counter_key"]
    client.incr(f"{key}:starts")
    for step in range(params["steps"]):
        ctx.checkpoint(step * 100 // params["steps"])
        time.sleep(params["step_seconds"])
    client.incr(f"{key}:completions")
    return {"steps": params["steps"]}
