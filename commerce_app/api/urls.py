from django.urls import path

from commerce_app.api import views, webhooks

app_name = "commerce"

urlpatterns = [
    path("products", views.ProductListCreateView.as_view(), name="product-list"),
    path("products/bulk", views.ProductBulkView.as_view(), name="product-bulk"),
    path("products/<int:pk>", views.ProductDetailView.as_view(), name="product-detail"),
    path("orders", views.OrderListView.as_view(), name="order-list"),
    path("orders/<int:pk>", views.OrderDetailView.as_view(), name="order-detail"),
    path("customers", views.CustomerListView.as_view(), name="customer-list"),
    path("customers/<int:pk>", views.CustomerDetailView.as_view(), name="customer-detail"),
    path("pricing/optimize", views.PricingOptimizeView.as_view(), name="pricing-optimize"),
    path("inventory/low-stock", views.LowStockView.as_view(), name="low-stock"),
    path("webhooks/woocommerce", webhooks.WooCommerceWebhookView.as_view(), name="woocommerce-webhook"),
]
