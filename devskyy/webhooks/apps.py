from django.apps import AppConfig


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
        from devskyy.webhooks.services import task_feed_hook

        add_publish_hook(task_feed_hook)
