"""Marketing campaigns and e-mail: channel backends, sending, attribution, SMTP."""

from __future__ import annotations

from devskyy.core.env import ConfigError, env

from .base import IS_PRODUCTION
from .integrations import CELERY_BEAT_SCHEDULE as _BEAT_BEFORE
from .integrations import _every

# Django's mail framework (the email channel): SMTP unless a test swaps the backend.
# With no reachable SMTP server, campaign emails are recorded as failed with the error.
EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
EMAIL_HOST = env.str("EMAIL_HOST", "localhost")
EMAIL_PORT = env.int("EMAIL_PORT", 25, minimum=1, maximum=65535)
EMAIL_HOST_USER = env.str("EMAIL_HOST_USER")
EMAIL_HOST_PASSWORD = env.str("EMAIL_HOST_PASSWORD")
EMAIL_USE_TLS = env.bool("EMAIL_USE_TLS", default=False)
EMAIL_USE_SSL = env.bool("EMAIL_USE_SSL", default=False)
EMAIL_TIMEOUT = env.int("EMAIL_TIMEOUT", 10, minimum=1, maximum=300)
DEFAULT_FROM_EMAIL = env.str("DEFAULT_FROM_EMAIL", "SkyyRose <hello@skyyrose.co>")
SERVER_EMAIL = DEFAULT_FROM_EMAIL
if EMAIL_USE_TLS and EMAIL_USE_SSL:
    raise ConfigError("EMAIL_USE_TLS and EMAIL_USE_SSL cannot both be 'true'.")

# Campaign messages: sender, and the domain of the Message-ID recorded per email.
MARKETING_FROM_EMAIL = env.str("MARKETING_FROM_EMAIL", DEFAULT_FROM_EMAIL)
MARKETING_MESSAGE_ID_DOMAIN = env.str("MARKETING_MESSAGE_ID_DOMAIN", "devskyy.app")
# Where recipients reach this platform's unsubscribe page (the link in every campaign
# email). Production has no default: without it, campaign emails are not sent (each is
# recorded as failed, saying why) rather than sent without a way to opt out.
MARKETING_PUBLIC_URL = env.url(
    "MARKETING_PUBLIC_URL", "" if IS_PRODUCTION else "http://127.0.0.1:8000", schemes=("http", "https")
)
# Channel -> backend class (agents_app/marketing/channels.py). SMS and social have no
# provider wired: the outbox backend records them as "recorded", never "sent".
MARKETING_CHANNEL_BACKENDS: dict[str, str] = {
    "email": env.str("MARKETING_EMAIL_BACKEND", "agents_app.marketing.channels.DjangoEmailBackend"),
    "sms": env.str("MARKETING_SMS_BACKEND", "agents_app.marketing.channels.OutboxBackend"),
    "social": env.str("MARKETING_SOCIAL_BACKEND", "agents_app.marketing.channels.OutboxBackend"),
}
# Orders a recipient places within this many days after a message was sent to them
# count for the campaign (and the variant they received).
MARKETING_ATTRIBUTION_DAYS = env.int("MARKETING_ATTRIBUTION_DAYS", 7, minimum=1, maximum=365)
# Pending messages read per round while sending; the sender's lease on a campaign
# (renewed while it sends; an expired lease lets another dispatcher resume).
MARKETING_SEND_BATCH_SIZE = env.int("MARKETING_SEND_BATCH_SIZE", 200, minimum=1, maximum=10_000)
MARKETING_SEND_LEASE_SECONDS = env.int("MARKETING_SEND_LEASE_SECONDS", 300, minimum=5, maximum=86_400)
# Completion cap of each copy-writing call (one per variant).
MARKETING_COPY_MAX_TOKENS = env.int("MARKETING_COPY_MAX_TOKENS", 800, minimum=64, maximum=8192)
# celery beat queues the due-campaign dispatcher this often; 0 = no schedule (then run
# manage.py send_due_campaigns yourself).
MARKETING_DISPATCH_INTERVAL_SECONDS = env.int("MARKETING_DISPATCH_INTERVAL_SECONDS", 30, minimum=0, maximum=3600)

CELERY_BEAT_SCHEDULE: dict[str, dict[str, object]] = {
    **_BEAT_BEFORE,
    **(
        {
            "marketing-dispatch": _every(
                "agents_app.marketing.tasks.dispatch_due_campaigns", MARKETING_DISPATCH_INTERVAL_SECONDS
            )
        }
        if MARKETING_DISPATCH_INTERVAL_SECONDS
        else {}
    ),
}
