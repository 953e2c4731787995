from typing import Any

from django.apps import AppConfig
from django.db.models.signals import post_delete, post_save


def _subscriptions_changed(**kwargs: Any) -> None:
    from devskyy.webhooks.services import subscriptions_changed

    subscriptions_changed()


class WebhooksConfig(AppConfig):
    """Outbound webhooks: subscriptions, signed deliveries, retries, dead letters, replay.

    Events reach it through ``devskyy.core.outbound.emit`` (commerce, campaigns) and
    through a publish hook on the live feed (task completed/failed), registered here.
    """

    name = "devskyy.webhooks"
    label = "webhooks"
    verbose_name = "Outbound webhooks"

    def ready(self) -> None:
        from devskyy.core.events import add_publish_hook
        from devskyy.webhooks.models import WebhookSubscription
        from devskyy.webhooks.services import task_feed_hook

        add_publish_hook(task_feed_hook)
        # Processes keep a copy of the active subscriptions (services._SUBSCRIBERS).
        post_save.connect(_subscriptions_changed, sender=WebhookSubscription, dispatch_uid="webhook-subscription-saved")
        post_delete.connect(
            _subscriptions_changed, sender=WebhookSubscription, dispatch_uid="webhook-subscription-deleted"
        )
