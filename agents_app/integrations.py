"""Which outside integrations are configured (from settings; nothing is contacted)."""

from __future__ import annotations

from django.conf import settings

INTEGRATIONS = ("llm", "woocommerce", "wordpress", "tripo", "fashn")


def integration_status() -> dict[str, bool]:
    """``llm``: at least one provider is enabled (env key, local URL or an enabled stored
    credential; one query)."""
    from agents_app.llm.routing import enabled_providers

    llm = bool(enabled_providers())
    return {
        "llm": llm,
        "woocommerce": bool(settings.WORDPRESS_URL and settings.WOOCOMMERCE_KEY and settings.WOOCOMMERCE_SECRET),
        "wordpress": bool(settings.WORDPRESS_URL and settings.WORDPRESS_USER and settings.WORDPRESS_APP_PASSWORD),
        "tripo": bool(settings.ENABLE_3D_GENERATION and settings.TRIPO_API_KEY),
        "fashn": bool(settings.ENABLE_3D_GENERATION and settings.FASHN_API_KEY),
    }
