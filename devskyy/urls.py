"""URL conf: platform probes at the root, the versioned API under /api/v1/."""

from django.conf import settings
from django.contrib import admin
from django.urls import include, path
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerView

from agents_app.views import dashboard, unsubscribe
from devskyy.core.api.urls import audit_urlpatterns, auth_urlpatterns

urlpatterns = [
    path("", include("health_app.api.urls")),
    path("api/v1/auth/", include(auth_urlpatterns)),
    path("api/v1/", include(audit_urlpatterns)),
    path("api/v1/", include("agents_app.api.urls")),
    path("api/v1/commerce/", include("commerce_app.api.urls")),
    path("api/v1/", include("agents_app.api.capabilities_urls")),
    path("api/v1/media/", include("agents_app.api.media_urls")),
    path("api/v1/marketing/", include("agents_app.api.marketing_urls")),
    path("api/v1/webhooks/", include("devskyy.webhooks.api.urls")),
    path("api/schema/", SpectacularAPIView.as_view(), name="schema"),
    path("api/docs/", SpectacularSwaggerView.as_view(url_name="schema"), name="docs"),
    path("dashboard/", dashboard, name="dashboard"),
    path("marketing/unsubscribe/<str:token>", unsubscribe, name="marketing-unsubscribe"),
    path(settings.ADMIN_URL, admin.site.urls),
]

handler400 = "devskyy.core.errors.handler400"
handler403 = "devskyy.core.errors.handler403"
handler404 = "devskyy.core.errors.handler404"
handler500 = "devskyy.core.errors.handler500"
