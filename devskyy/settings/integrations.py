"""Outside services: LLM providers, 3D/try-on providers, WordPress and WooCommerce.

Each is enabled by its key; nothing here is contacted at start-up.
"""

from __future__ import annotations

from devskyy.core.env import env

_HTTP = ("https", "http")

LLM_PROVIDERS = {
    name: {
        "api_key": env.str(f"{prefix}_API_KEY"),
        "base_url": env.url(f"{prefix}_BASE_URL", schemes=_HTTP),
    }
    for name, prefix in (
        ("openai", "OPENAI"),
        ("anthropic", "ANTHROPIC"),
        ("google", "GOOGLE_AI"),
        ("groq", "GROQ"),
        ("mistral", "MISTRAL"),
        ("cohere", "COHERE"),
    )
}

ENABLE_3D_GENERATION = env.bool("ENABLE_3D_GENERATION", default=True)
TRIPO_API_KEY = env.str("TRIPO_API_KEY")
TRIPO_BASE_URL = env.url("TRIPO_BASE_URL", "https://api.tripo3d.ai", schemes=_HTTP)
FASHN_API_KEY = env.str("FASHN_API_KEY")
FASHN_BASE_URL = env.url("FASHN_BASE_URL", "https://api.fashn.ai", schemes=_HTTP)
HUGGINGFACE_ACCESS_TOKEN = env.str("HUGGINGFACE_ACCESS_TOKEN")

WORDPRESS_URL = env.url("WORDPRESS_URL", schemes=_HTTP)
WORDPRESS_USER = env.str("WORDPRESS_USER")
WORDPRESS_APP_PASSWORD = env.str("WORDPRESS_APP_PASSWORD")
WOOCOMMERCE_KEY = env.str("WOOCOMMERCE_KEY")
WOOCOMMERCE_SECRET = env.str("WOOCOMMERCE_SECRET")
WOOCOMMERCE_WEBHOOK_SECRET = env.str("WOOCOMMERCE_WEBHOOK_SECRET")
