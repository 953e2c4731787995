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
WOOCOMMERCE_CONNECT_TIMEOUT = env.float("WOOCOMMERCE_CONNECT_TIMEOUT", 5.0, minimum=0.1, maximum=60.0)
WOOCOMMERCE_READ_TIMEOUT = env.float("WOOCOMMERCE_READ_TIMEOUT", 30.0, minimum=0.1, maximum=300.0)
WOOCOMMERCE_MAX_ATTEMPTS = env.int("WOOCOMMERCE_MAX_ATTEMPTS", 5, minimum=1, maximum=10)
WOOCOMMERCE_MAX_RETRY_WAIT = env.float("WOOCOMMERCE_MAX_RETRY_WAIT", 60.0, minimum=0.0, maximum=900.0)
# Plain http to a non-loopback shop sends the consumer key in the clear; only for a shop you control.
WOOCOMMERCE_ALLOW_INSECURE_HTTP = env.bool("WOOCOMMERCE_ALLOW_INSECURE_HTTP", default=False)

# WooCommerce sync schedule: the beat process (render.yaml devskyy-scheduler) queues an
# outbox push + incremental import every WOOCOMMERCE_SYNC_INTERVAL_SECONDS; 0 disables it.
WOOCOMMERCE_SYNC_INTERVAL_SECONDS = env.int("WOOCOMMERCE_SYNC_INTERVAL_SECONDS", 900, minimum=0, maximum=86_400)
CELERY_BEAT_SCHEDULE: dict[str, dict[str, object]] = (
    {
        "woocommerce-sync": {
            "task": "commerce_app.tasks.sync_shop",
            "schedule": float(WOOCOMMERCE_SYNC_INTERVAL_SECONDS),
            # A run that could not start within one interval is replaced by the next one.
            "options": {"expires": float(WOOCOMMERCE_SYNC_INTERVAL_SECONDS)},
        }
    }
    if WOOCOMMERCE_SYNC_INTERVAL_SECONDS
    else {}
)
WORDPRESS_TIMEOUT_SECONDS = env.float("WORDPRESS_TIMEOUT_SECONDS", 15.0, minimum=0.1, maximum=120.0)
WORDPRESS_MAX_ATTEMPTS = env.int("WORDPRESS_MAX_ATTEMPTS", 4, minimum=1, maximum=10)
WORDPRESS_RETRY_BASE_SECONDS = env.float("WORDPRESS_RETRY_BASE_SECONDS", 1.0, minimum=0.0, maximum=60.0)

# Outbound webhooks (devskyy/webhooks): attempts per delivery before it is dead-lettered,
# exponential backoff between attempts, and the time one attempt may take.
WEBHOOK_MAX_ATTEMPTS = env.int("WEBHOOK_MAX_ATTEMPTS", 8, minimum=1, maximum=25)
WEBHOOK_RETRY_BASE_SECONDS = env.float("WEBHOOK_RETRY_BASE_SECONDS", 30.0, minimum=0.0, maximum=3600.0)
WEBHOOK_RETRY_MAX_SECONDS = env.float("WEBHOOK_RETRY_MAX_SECONDS", 21600.0, minimum=0.0, maximum=86400.0)
WEBHOOK_TIMEOUT_SECONDS = env.float("WEBHOOK_TIMEOUT_SECONDS", 10.0, minimum=0.5, maximum=60.0)
# (ip, port) pairs exempt from the SSRF guard for webhook receivers. Tests set it with
# override_settings to reach a receiver on 127.0.0.1; deliberately never read from the
# environment, so no deployment can open the guard.
WEBHOOK_UNSAFE_ALLOWED_ADDRESSES: list[tuple[str, int]] = []
