"""Which outside integrations are configured (from settings and stored connections; nothing is contacted)."""

from __future__ import annotations

import threading
import time
from typing import Any

from django.conf import settings

from commerce_app.selectors import shop_connection_enabled
from devskyy.core.settings_cache import derived_from_settings

INTEGRATIONS = ("llm", "woocommerce", "wordpress", "tripo", "fashn")
# The shop connection can be added or disabled in the admin; this process re-reads it at
# most this often (the agents list asks on every request: PERF P1).
SHOP_STATUS_SECONDS = 5.0
_shop_lock = threading.Lock()
_shop_status: tuple[float, tuple[str, str, str], bool] | None = None


@derived_from_settings
def _from_settings() -> tuple[tuple[str, str, str], bool, bool, bool]:
    """(the shop's env settings, wordpress, tripo, fashn): what the settings alone decide."""
    return (
        (settings.WORDPRESS_URL, settings.WOOCOMMERCE_KEY, settings.WOOCOMMERCE_SECRET),
        bool(settings.WORDPRESS_URL and settings.WORDPRESS_USER and settings.WORDPRESS_APP_PASSWORD),
        bool(settings.ENABLE_3D_GENERATION and settings.TRIPO_API_KEY),
        bool(settings.ENABLE_3D_GENERATION and settings.FASHN_API_KEY),
    )


def _woocommerce_configured() -> bool:
    """A stored connection decides (enabled or not); without one, the WOOCOMMERCE_* env vars
    (the connection is seeded from them on first use: commerce_app.sync.shop_connection_get)."""
    global _shop_status
    now = time.monotonic()
    env = _from_settings()[0]
    cached = _shop_status
    if cached is not None and cached[0] > now and cached[1] == env:
        return cached[2]
    stored = shop_connection_enabled()
    configured = stored if stored is not None else all(env)
    with _shop_lock:
        _shop_status = (now + SHOP_STATUS_SECONDS, env, configured)
    return configured


def forget_shop_status() -> None:
    """Drop this process's cached shop status (after a connection change here, and in tests)."""
    global _shop_status
    with _shop_lock:
        _shop_status = None


def integration_status(request: Any = None) -> dict[str, bool]:
    """``llm``: at least one provider is enabled (env key, local URL or an enabled stored
    credential: agents_app.llm.routing.enabled_providers, ``request`` passed on).
    ``woocommerce``: see :func:`_woocommerce_configured`."""
    from agents_app.llm.routing import any_provider_enabled

    _, wordpress, tripo, fashn = _from_settings()
    return {
        "llm": any_provider_enabled(request),
        "woocommerce": _woocommerce_configured(),
        "wordpress": wordpress,
        "tripo": tripo,
        "fashn": fashn,
    }
