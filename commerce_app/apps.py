from django.apps import AppConfig


class CommerceConfig(AppConfig):
    """Catalog, orders and customers kept in step with WooCommerce."""

    name = "commerce_app"
    verbose_name = "Commerce"
