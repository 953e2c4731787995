from django.apps import AppConfig


class CommerceConfig(AppConfig):
    """Catalog, orders and customers kept in step with WooCommerce."""

    name = "commerce_app"
    verbose_name = "Commerce"

    def ready(self) -> None:
        from commerce_app.api.webhooks import signed_delivery
        from devskyy.core.access import register_signed_route

        register_signed_route("commerce:woocommerce-webhook", signed_delivery)
