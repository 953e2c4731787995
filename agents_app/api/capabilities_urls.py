from django.urls import path

from agents_app.api import capabilities_views as views

app_name = "capabilities"

urlpatterns = [
    path("code/scan", views.CodeScanView.as_view(), name="code-scan"),
    path("code/fix", views.CodeFixView.as_view(), name="code-fix"),
    path("ml/predict", views.PredictView.as_view(), name="ml-predict"),
]
