from django.apps import AppConfig


class FeedConfig(AppConfig):
    """The stored, sequenced event feed behind the WebSocket channels (see core/events.py).

    Its own app (not ``core``) so the feed's table and migrations stay independent of
    the core's auth/audit models.
    """

    name = "devskyy.feed"
    label = "feed"
    verbose_name = "Event feed"
