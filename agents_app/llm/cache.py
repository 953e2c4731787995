"""Response cache that knows the catalog.

Key: sha256 over provider, model, messages, tools, temperature, max_tokens and the
current *version token* of every product the request says it used. Reads and writes
go through ``django.core.cache.cache`` so hits and misses are counted in
``redis_cache_*``. TTL is settings.LLM_CACHE_TTL (0 turns the cache off).

Product invalidation: each product id has a random version token in the cache.
``invalidate_products(ids)`` replaces the tokens, so every answer cached under the old
ones can no longer be addressed and expires by TTL. A token that is missing (never
set, expired, or lost) is replaced by a *fresh random* one, never by a fixed default,
so losing a token can only cause misses, never resurrect a stale answer. If the cache
cannot hold a token at all (Redis down, dummy cache), the answer is not cached.
"""

from __future__ import annotations

import hashlib
import json
import secrets
from collections.abc import Iterable
from typing import Any

from django.conf import settings
from django.core.cache import cache

from agents_app.llm.types import Completion, ProviderCall

_VERSION_PREFIX = "llm:pv:"
_RESPONSE_PREFIX = "llm:resp:"


def enabled() -> bool:
    return int(settings.LLM_CACHE_TTL) > 0


def _version_ttl() -> int:
    # Outlive any answer keyed on the token; a token that expires earlier only costs a miss.
    return int(settings.LLM_CACHE_TTL) * 2


def _version_key(product_id: int | str) -> str:
    return f"{_VERSION_PREFIX}{product_id}"


def product_versions(product_ids: Iterable[int | str]) -> dict[str, str] | None:
    """Current version token per product, creating missing ones; None if the cache
    cannot keep them (then nothing tagged with these products may be cached)."""
    keys = {_version_key(pid): str(pid) for pid in product_ids}
    if not keys:
        return {}
    found: dict[str, Any] = cache.get_many(keys)
    missing = [key for key in keys if key not in found]
    if missing:
        for key in missing:
            cache.add(key, secrets.token_hex(8), _version_ttl())
        # Re-read: another process may have won the add with its own token.
        found.update(cache.get_many(missing))
        if any(key not in found for key in missing):
            return None
    return {keys[key]: str(token) for key, token in found.items()}


def invalidate_products(product_ids: Iterable[int | str]) -> int:
    """Drop every cached answer that used any of these products. Returns how many
    product tokens were replaced. Call it when a product's data changes (admin edit,
    API write, WooCommerce webhook)."""
    tokens = {_version_key(pid): secrets.token_hex(8) for pid in product_ids}
    if tokens:
        cache.set_many(tokens, _version_ttl())
    return len(tokens)


def response_key(*, call: ProviderCall, provider: str, versions: dict[str, str]) -> str:
    material = {
        "v": 1,
        "provider": provider,
        "model": call.model,
        "messages": [m.as_dict() for m in call.messages],
        "tools": [t.as_dict() for t in call.tools],
        "temperature": call.temperature,
        "max_tokens": call.max_tokens,
        "products": sorted(versions.items()),
    }
    digest = hashlib.sha256(json.dumps(material, sort_keys=True, separators=(",", ":")).encode()).hexdigest()
    return _RESPONSE_PREFIX + digest


def lookup(key: str) -> Completion | None:
    data = cache.get(key)
    if not isinstance(data, dict):
        return None
    return Completion.from_cache(data)


def store(key: str, completion: Completion) -> None:
    cache.set(key, completion.to_cache(), int(settings.LLM_CACHE_TTL))
