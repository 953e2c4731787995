"""Realtime: the live feed's retention and metrics interval, and the Channels layer.

The live feed does not travel through the channel layer: events are announced with
PostgreSQL NOTIFY and fanned out by one hub per web process (devskyy/core/feed_hub.py,
PERF P4/P5). The layer stays configured (Redis in production, in memory embedded)
for Channels itself and is reported by /health.
"""

from __future__ import annotations

from devskyy.core.env import env

from .cache import REDIS_URL

# How long stored feed events stay resumable (``{"type":"resume","after":seq}``).
EVENT_RETENTION_HOURS = env.int("EVENT_RETENTION_HOURS", 24, minimum=1, maximum=24 * 90)
# Seconds between metrics_update snapshots on /ws/metrics.
METRICS_FEED_INTERVAL_SECONDS = env.float("METRICS_FEED_INTERVAL_SECONDS", 5.0, minimum=0.2, maximum=300)

if REDIS_URL:
    CHANNEL_LAYERS = {
        "default": {
            "BACKEND": "channels_redis.core.RedisChannelLayer",
            "CONFIG": {
                "hosts": [REDIS_URL],
                "prefix": "devskyy:asgi",
                "capacity": 1000,
                "expiry": 60,
            },
        }
    }
else:
    CHANNEL_LAYERS = {"default": {"BACKEND": "channels.layers.InMemoryChannelLayer"}}
