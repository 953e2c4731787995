from django.urls import path

from agents_app.api import capabilities_views as views

app_name = "capabilities"

urlpatterns = [
    path("code/scan", views.CodeScanView.as_view(), name="code-scan"),
    path("code/fix", views.CodeFixView.as_view(), name="code-fix"),
    path("ml/predict", views.PredictView.as_view(), name="ml-predict"),
    path("wordpress/publish", views.WordPressPublishView.as_view(), name="wordpress-publish"),
    path("wordpress/generate-theme", views.ThemeGenerateView.as_view(), name="wordpress-generate-theme"),
    path(
        "wordpress/themes/<uuid:theme_id>/download", views.ThemeDownloadView.as_view(), name="wordpress-theme-download"
    ),
]
