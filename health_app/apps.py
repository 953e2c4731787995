from django.apps import AppConfig


class HealthConfig(AppConfig):
    """Probes and metrics: /, /health, /ready, /live, /metrics."""

    name = "health_app"
    verbose_name = "Health"
