from django.urls import path

from agents_app.api import media_views as views

app_name = "media"

urlpatterns = [
    path("3d/generate/text", views.TextToModelView.as_view(), name="3d-generate-text"),
    path("3d/generate/image", views.ImageToModelView.as_view(), name="3d-generate-image"),
    path("3d/jobs", views.ModelJobListView.as_view(), name="3d-jobs"),
    path("3d/jobs/<uuid:job_id>", views.ModelJobDetailView.as_view(), name="3d-job"),
    path("tryon", views.TryOnView.as_view(), name="tryon"),
    path("tryon/<uuid:job_id>", views.TryOnDetailView.as_view(), name="tryon-job"),
    path("jobs/<uuid:job_id>/cancel", views.MediaJobCancelView.as_view(), name="job-cancel"),
    path("jobs/<uuid:job_id>/files/<int:file_id>", views.MediaFileDownloadView.as_view(), name="job-file"),
]
