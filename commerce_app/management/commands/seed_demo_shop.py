from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandParser

from commerce_app.services import demo_shop_seed


class Command(BaseCommand):
    help = "Create the deterministic demo shop (products, customers, a year of orders) where missing."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--seed", type=int, default=2024, help="random seed (same seed, same shop)")

    def handle(self, *args: Any, **options: Any) -> None:
        result = demo_shop_seed(seed=options["seed"])
        self.stdout.write(
            f"demo shop: created {result.products_created} products, {result.customers_created} customers, "
            f"{result.orders_created} orders ({result.items_created} lines); "
            f"now {result.products_total} products, {result.customers_total} customers, {result.orders_total} orders"
        )
