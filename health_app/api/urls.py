from django.urls import path

from health_app.api import views
from health_app.api.monitoring import MonitoringMetricsView

app_name = "health"

urlpatterns = [
    path("", views.root, name="root"),
    path("health", views.health, name="health"),
    path("ready", views.ready, name="ready"),
    path("live", views.live, name="live"),
    path("metrics", views.metrics, name="metrics"),
    path("metrics/cache", views.metrics_cache, name="metrics-cache"),
    path("api/v1/monitoring/metrics", MonitoringMetricsView.as_view(), name="monitoring-metrics"),
]
