from django.urls import path

from agents_app.api import marketing_views as views

app_name = "marketing"

urlpatterns = [
    path("campaigns", views.CampaignListCreateView.as_view(), name="campaign-list"),
    path("campaigns/<uuid:campaign_id>", views.CampaignDetailView.as_view(), name="campaign-detail"),
    path("campaigns/<uuid:campaign_id>/results", views.CampaignResultsView.as_view(), name="campaign-results"),
    path("campaigns/<uuid:campaign_id>/messages", views.CampaignMessagesView.as_view(), name="campaign-messages"),
    path("campaigns/<uuid:campaign_id>/cancel", views.CampaignCancelView.as_view(), name="campaign-cancel"),
    path("campaigns/<uuid:campaign_id>/send-now", views.CampaignSendNowView.as_view(), name="campaign-send-now"),
    path("audience/preview", views.AudiencePreviewView.as_view(), name="audience-preview"),
]
