from django.urls import path

from devskyy.webhooks.api import views

app_name = "webhooks"

urlpatterns = [
    path("subscriptions", views.SubscriptionListCreateView.as_view(), name="subscription-list"),
    path("subscriptions/<uuid:pk>", views.SubscriptionDetailView.as_view(), name="subscription-detail"),
    path("deliveries", views.DeliveryListView.as_view(), name="delivery-list"),
    path("deliveries/<uuid:pk>", views.DeliveryDetailView.as_view(), name="delivery-detail"),
    path("deliveries/<uuid:pk>/replay", views.DeliveryReplayView.as_view(), name="delivery-replay"),
]
