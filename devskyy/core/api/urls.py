from django.urls import path

from devskyy.core.api import views

auth_urlpatterns = (
    [
        path("token", views.TokenObtainView.as_view(), name="token"),
        path("refresh", views.TokenRefreshView.as_view(), name="refresh"),
        path("logout", views.LogoutView.as_view(), name="logout"),
        path("me", views.MeView.as_view(), name="me"),
        path("api-keys", views.APIKeyListCreateView.as_view(), name="api-keys"),
        path("api-keys/<str:prefix>/revoke", views.APIKeyRevokeView.as_view(), name="api-key-revoke"),
    ],
    "auth",
)

audit_urlpatterns = (
    [path("audit-log", views.AuditLogListView.as_view(), name="log")],
    "audit",
)
