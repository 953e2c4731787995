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
FASHN_MODEL_NAME = env.choice("FASHN_MODEL_NAME", "tryon-v1.6", ("tryon-v1.6", "tryon-v1.5"))
# List prices charged to the spend ledger (and reserved from the daily budget before a
# job is submitted): neither provider reports a per-task amount in its task answer.
# Defaults are public list prices at the time of writing; set your plan's price.
TRIPO_PRICE_USD_PER_TASK = env.float("TRIPO_PRICE_USD_PER_TASK", 0.20, minimum=0.0, maximum=100.0)
FASHN_PRICE_USD_PER_RUN = env.float("FASHN_PRICE_USD_PER_RUN", 0.075, minimum=0.0, maximum=100.0)
# 3D / try-on jobs (agents_app/media): a job still unfinished this long after it was
# created fails with ``deadline_exceeded``; status polls start MEDIA_POLL_INITIAL_SECONDS
# apart and grow by half each time up to MEDIA_POLL_MAX_SECONDS (the task re-queues itself).
MEDIA_JOB_DEADLINE_SECONDS = env.int("MEDIA_JOB_DEADLINE_SECONDS", 1800, minimum=1, maximum=86_400)
MEDIA_POLL_INITIAL_SECONDS = env.float("MEDIA_POLL_INITIAL_SECONDS", 2.0, minimum=0.0, maximum=600.0)
MEDIA_POLL_MAX_SECONDS = env.float("MEDIA_POLL_MAX_SECONDS", 30.0, minimum=0.0, maximum=3600.0)
# One provider API call: timeout, attempts (429/5xx/connection errors) and backoff base.
MEDIA_HTTP_TIMEOUT_SECONDS = env.float("MEDIA_HTTP_TIMEOUT_SECONDS", 30.0, minimum=0.1, maximum=300.0)
MEDIA_MAX_ATTEMPTS = env.int("MEDIA_MAX_ATTEMPTS", 4, minimum=1, maximum=10)
MEDIA_RETRY_BASE_SECONDS = env.float("MEDIA_RETRY_BASE_SECONDS", 1.0, minimum=0.0, maximum=60.0)
# celery beat queues the next step of active media jobs nobody holds that have not moved
# for max(300 s, 2 x MEDIA_POLL_MAX_SECONDS) (a lost message), this often; 0 = none (then
# run manage.py requeue_media_jobs).
MEDIA_SWEEP_INTERVAL_SECONDS = env.int("MEDIA_SWEEP_INTERVAL_SECONDS", 60, minimum=0, maximum=3600)
# Size limits of fetched input images and of downloaded outputs (models, renders).
# Retention: the stored files of jobs that finished more than MEDIA_RETENTION_DAYS ago are
# deleted (the job and file records stay; agents_app/media/services/retention.py), checked
# every MEDIA_RETENTION_CHECK_SECONDS by beat. 0 days: files are kept until
# ``manage.py purge_media`` removes them.
MEDIA_RETENTION_DAYS = env.int("MEDIA_RETENTION_DAYS", 0, minimum=0, maximum=36_500)
MEDIA_RETENTION_CHECK_SECONDS = env.int("MEDIA_RETENTION_CHECK_SECONDS", 3600, minimum=60, maximum=7 * 86_400)
MEDIA_MAX_INPUT_BYTES = env.int("MEDIA_MAX_INPUT_BYTES", 10 * 1024 * 1024, minimum=1024, maximum=100 * 1024 * 1024)
MEDIA_MAX_OUTPUT_BYTES = env.int("MEDIA_MAX_OUTPUT_BYTES", 100 * 1024 * 1024, minimum=1024, maximum=1024 * 1024 * 1024)
MEDIA_DOWNLOAD_TIMEOUT_SECONDS = env.float("MEDIA_DOWNLOAD_TIMEOUT_SECONDS", 120.0, minimum=1.0, maximum=1800.0)
# (ip, port) pairs exempt from the SSRF guard for image and output fetches. Tests set
# it with override_settings to reach local servers; never read from the environment.
MEDIA_UNSAFE_ALLOWED_ADDRESSES: list[tuple[str, int]] = []

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
WORDPRESS_TIMEOUT_SECONDS = env.float("WORDPRESS_TIMEOUT_SECONDS", 15.0, minimum=0.1, maximum=120.0)
WORDPRESS_MAX_ATTEMPTS = env.int("WORDPRESS_MAX_ATTEMPTS", 4, minimum=1, maximum=10)
WORDPRESS_RETRY_BASE_SECONDS = env.float("WORDPRESS_RETRY_BASE_SECONDS", 1.0, minimum=0.0, maximum=60.0)

# Outbound webhooks (devskyy/webhooks): attempts per delivery before it is dead-lettered,
# exponential backoff between attempts, and the time one attempt may take.
WEBHOOK_MAX_ATTEMPTS = env.int("WEBHOOK_MAX_ATTEMPTS", 8, minimum=1, maximum=25)
WEBHOOK_RETRY_BASE_SECONDS = env.float("WEBHOOK_RETRY_BASE_SECONDS", 30.0, minimum=0.0, maximum=3600.0)
WEBHOOK_RETRY_MAX_SECONDS = env.float("WEBHOOK_RETRY_MAX_SECONDS", 21600.0, minimum=0.0, maximum=86400.0)
WEBHOOK_TIMEOUT_SECONDS = env.float("WEBHOOK_TIMEOUT_SECONDS", 10.0, minimum=0.5, maximum=60.0)
# celery beat queues an attempt for every delivery already due whose message was lost
# (or whose claim expired) this often; 0 = none (then run manage.py dispatch_due_webhooks).
WEBHOOK_SWEEP_INTERVAL_SECONDS = env.int("WEBHOOK_SWEEP_INTERVAL_SECONDS", 60, minimum=0, maximum=3600)
# (ip, port) pairs exempt from the SSRF guard for webhook receivers. Tests set it with
# override_settings to reach a receiver on 127.0.0.1; deliberately never read from the
# environment, so no deployment can open the guard.
WEBHOOK_UNSAFE_ALLOWED_ADDRESSES: list[tuple[str, int]] = []


def _every(task: str, seconds: float) -> dict[str, object]:
    # A run that could not start within one interval is replaced by the next one.
    return {"task": task, "schedule": float(seconds), "options": {"expires": float(seconds)}}


# The beat process (render.yaml devskyy-scheduler); an interval of 0 leaves its entry out.
CELERY_BEAT_SCHEDULE: dict[str, dict[str, object]] = {
    name: _every(task, seconds)
    for name, task, seconds in (
        ("woocommerce-sync", "commerce_app.tasks.sync_shop", WOOCOMMERCE_SYNC_INTERVAL_SECONDS),
        ("webhook-deliveries-due", "devskyy.webhooks.dispatch_due", WEBHOOK_SWEEP_INTERVAL_SECONDS),
        ("media-jobs-stale", "agents_app.media.requeue_stale", MEDIA_SWEEP_INTERVAL_SECONDS),
        (
            "media-retention",
            "agents_app.media.purge_expired",
            MEDIA_RETENTION_CHECK_SECONDS if MEDIA_RETENTION_DAYS else 0,
        ),
    )
    if seconds
}
