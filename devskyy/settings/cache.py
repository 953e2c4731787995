"""Cache: django-redis when REDIS_URL is set, local memory otherwise.

Both backends are wrapped by devskyy.core.cache so that hits, misses and errors are
counted where the cache is read, and a Redis outage turns into fast misses (circuit
breaker) instead of every request waiting out the socket timeout.
"""

from __future__ import annotations

from typing import Any

from devskyy.core.env import ConfigError, env

from .base import IS_PRODUCTION

REDIS_URL = env.url("REDIS_URL", schemes=("redis", "rediss", "unix"))
if IS_PRODUCTION and not REDIS_URL:
    raise ConfigError("REDIS_URL is required when ENVIRONMENT is staging or production.")
REDIS_MAX_CONNECTIONS = env.int("REDIS_MAX_CONNECTIONS", 20, minimum=1, maximum=10_000)
REDIS_SOCKET_TIMEOUT = env.float("REDIS_SOCKET_TIMEOUT", 5.0, minimum=0.05, maximum=120)
REDIS_CONNECT_TIMEOUT = env.float("REDIS_CONNECT_TIMEOUT", 1.0, minimum=0.05, maximum=60)
# After a Redis failure, skip Redis for this many seconds (then let one call probe it).
REDIS_BREAKER_SECONDS = env.float("REDIS_BREAKER_SECONDS", 5.0, minimum=0.1, maximum=300)
ENABLE_CACHE = env.bool("ENABLE_CACHE", default=True)
CACHE_KEY_PREFIX = env.str("CACHE_KEY_PREFIX", "devskyy")
LLM_CACHE_TTL = env.int("LLM_CACHE_TTL", 3600, minimum=0)
# Longest a web process serves its rendered agents list without re-rendering, even if
# no change was announced (agents_app/agent_list.py); 0 renders on every request.
AGENTS_LIST_CACHE_SECONDS = env.float("AGENTS_LIST_CACHE_SECONDS", 10.0, minimum=0, maximum=3600)

CACHES: dict[str, dict[str, Any]]
if not ENABLE_CACHE:
    CACHES = {"default": {"BACKEND": "django.core.cache.backends.dummy.DummyCache"}}
elif REDIS_URL:
    CACHES = {
        "default": {
            "BACKEND": "devskyy.core.cache.RedisCache",
            "LOCATION": REDIS_URL,
            "KEY_PREFIX": CACHE_KEY_PREFIX,
            "TIMEOUT": 300,
            "OPTIONS": {
                "CLIENT_CLASS": "django_redis.client.DefaultClient",
                "SOCKET_TIMEOUT": REDIS_SOCKET_TIMEOUT,
                "SOCKET_CONNECT_TIMEOUT": REDIS_CONNECT_TIMEOUT,
                "CONNECTION_POOL_KWARGS": {
                    "max_connections": REDIS_MAX_CONNECTIONS,
                    "retry_on_timeout": True,
                    "health_check_interval": 30,
                },
            },
        }
    }
else:
    CACHES = {
        "default": {
            "BACKEND": "devskyy.core.cache.LocMemCache",
            "LOCATION": "devskyy-embedded",
            "KEY_PREFIX": CACHE_KEY_PREFIX,
            "TIMEOUT": 300,
        }
    }
