from django.apps import AppConfig


class CoreConfig(AppConfig):
    """Shared core: auth, throttling, encryption, audit, errors, logging, metrics."""

    name = "devskyy.core"
    label = "core"
    verbose_name = "Platform core"

    def ready(self) -> None:
        from devskyy.core import checks, receivers, schema  # noqa: F401 - registers checks, signal receivers, schema extensions
        from devskyy.taskqueue import app  # noqa: F401 - the current Celery app in every Django process
