"""Commerce endpoints: parse, call a selector or service, render."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal
from typing import Any

from django.db.models import QuerySet
from django.utils import timezone
from drf_spectacular.utils import extend_schema
from rest_framework import serializers as drf_serializers
from rest_framework.pagination import LimitOffsetPagination
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from commerce_app import selectors, services
from commerce_app.api.serializers import (
    BulkInputSerializer,
    BulkItemSerializer,
    BulkOutputSerializer,
    CustomerOutputSerializer,
    LowStockFilterSerializer,
    LowStockOutputSerializer,
    OrderFilterSerializer,
    OrderOutputSerializer,
    PricingInputSerializer,
    PricingOutputSerializer,
    ProductFilterSerializer,
    ProductInputSerializer,
    ProductOutputSerializer,
)
from commerce_app.models import Customer, Order, Product
from commerce_app.pricing import price_optimize
from devskyy.core.errors import NotFoundError


class _PagedListView(APIView):
    """A list answered in limit/offset pages; ``pagination_class`` also gives the schema
    its page shape (count, next, previous, results) and its limit/offset parameters."""

    pagination_class = LimitOffsetPagination


def _paginate(view: _PagedListView, request: Request, qs: QuerySet[Any], serializer: type[Any]) -> Response:
    paginator = view.pagination_class()
    page = paginator.paginate_queryset(qs, request, view=view)
    return paginator.get_paginated_response(serializer(page, many=True).data)


def _product(pk: int) -> Product:
    product = Product.objects.filter(pk=pk).first()
    if product is None:
        raise NotFoundError(f"No product {pk}.", code="product_not_found", details={"id": pk})
    return product


class ProductListCreateView(_PagedListView):
    @extend_schema(parameters=[ProductFilterSerializer], responses=ProductOutputSerializer(many=True))
    def get(self, request: Request) -> Response:
        filters = ProductFilterSerializer(data=request.query_params)
        filters.is_valid(raise_exception=True)
        qs = selectors.product_queryset(**filters.validated_data)
        return _paginate(self, request, qs, ProductOutputSerializer)

    @extend_schema(request=ProductInputSerializer, responses={201: ProductOutputSerializer})
    def post(self, request: Request) -> Response:
        data = ProductInputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        product = services.product_create(data=dict(data.validated_data), actor=request.user)
        return Response(ProductOutputSerializer(product).data, status=201)


class ProductDetailView(APIView):
    @extend_schema(responses=ProductOutputSerializer)
    def get(self, request: Request, pk: int) -> Response:
        return Response(ProductOutputSerializer(_product(pk)).data)

    @extend_schema(request=ProductInputSerializer, responses=ProductOutputSerializer)
    def patch(self, request: Request, pk: int) -> Response:
        product = _product(pk)
        data = ProductInputSerializer(data=request.data, partial=True)
        data.is_valid(raise_exception=True)
        updated = services.product_update(
            product=product, data=dict(data.validated_data), actor=request.user, actor_label=_label(request)
        )
        return Response(ProductOutputSerializer(updated).data)

    @extend_schema(request=ProductInputSerializer, responses=ProductOutputSerializer)
    def put(self, request: Request, pk: int) -> Response:
        product = _product(pk)
        data = ProductInputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        updated = services.product_update(
            product=product, data=dict(data.validated_data), actor=request.user, actor_label=_label(request)
        )
        return Response(ProductOutputSerializer(updated).data)

    @extend_schema(responses={204: None})
    def delete(self, request: Request, pk: int) -> Response:
        services.product_delete(product=_product(pk), actor=request.user)
        return Response(status=204)


def _label(request: Request) -> str:
    from devskyy.core.audit import principal_label

    return principal_label(request.user)


def _validate_bulk_item(action: str, raw: Any) -> tuple[dict[str, Any], Any]:
    if not isinstance(raw, dict):
        return {}, {"non_field_errors": ["Each item must be an object."]}
    if action == "create":
        serializer = BulkItemSerializer(data=raw)
    else:
        if not raw.get("id") and not raw.get("sku"):
            return {}, {"non_field_errors": ["Name the product with id or sku."]}
        serializer = BulkItemSerializer(data=raw, partial=True)
    if not serializer.is_valid():
        return {}, serializer.errors
    values = dict(serializer.validated_data)
    if action == "delete":
        values = {k: v for k, v in values.items() if k in ("id", "sku")}
    return values, None


class ProductBulkView(APIView):
    @extend_schema(request=BulkInputSerializer, responses=BulkOutputSerializer)
    def post(self, request: Request) -> Response:
        body = BulkInputSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        action, validate_only = body.validated_data["action"], body.validated_data["validate_only"]
        results = services.products_bulk(
            action=action,
            items=body.validated_data["products"],
            validate=_validate_bulk_item,
            validate_only=validate_only,
            actor=request.user,
        )
        failed = sum(1 for r in results if r.status == "error")
        payload = {
            "action": action,
            "validate_only": validate_only,
            "succeeded": len(results) - failed,
            "failed": failed,
            "results": [
                {"index": r.index, "status": r.status, "id": r.id, "sku": r.sku, "error": r.errors} for r in results
            ],
        }
        return Response(BulkOutputSerializer(payload).data)


class OrderListView(_PagedListView):
    @extend_schema(parameters=[OrderFilterSerializer], responses=OrderOutputSerializer(many=True))
    def get(self, request: Request) -> Response:
        filters = OrderFilterSerializer(data=request.query_params)
        filters.is_valid(raise_exception=True)
        return _paginate(self, request, selectors.order_queryset(**filters.validated_data), OrderOutputSerializer)


class OrderDetailView(APIView):
    @extend_schema(responses=OrderOutputSerializer)
    def get(self, request: Request, pk: int) -> Response:
        order: Order | None = selectors.order_queryset().filter(pk=pk).first()
        if order is None:
            raise NotFoundError(f"No order {pk}.", code="order_not_found")
        return Response(OrderOutputSerializer(order).data)


class CustomerSearchSerializer(drf_serializers.Serializer[Any]):
    search = drf_serializers.CharField(required=False, max_length=200)


class CustomerListView(_PagedListView):
    @extend_schema(parameters=[CustomerSearchSerializer], responses=CustomerOutputSerializer(many=True))
    def get(self, request: Request) -> Response:
        filters = CustomerSearchSerializer(data=request.query_params)
        filters.is_valid(raise_exception=True)
        return _paginate(self, request, selectors.customer_queryset(**filters.validated_data), CustomerOutputSerializer)


class CustomerDetailView(APIView):
    @extend_schema(responses=CustomerOutputSerializer)
    def get(self, request: Request, pk: int) -> Response:
        customer = Customer.objects.filter(pk=pk).first()
        if customer is None:
            raise NotFoundError(f"No customer {pk}.", code="customer_not_found")
        return Response(CustomerOutputSerializer(customer).data)


class PricingOptimizeView(APIView):
    @extend_schema(request=PricingInputSerializer, responses=PricingOutputSerializer)
    def post(self, request: Request) -> Response:
        body = PricingInputSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        constraints = body.validated_data.get("constraints") or {}
        result = price_optimize(
            product_ids=list(dict.fromkeys(body.validated_data["product_ids"])),
            strategy=body.validated_data["strategy"],
            min_margin=constraints.get("min_margin", Decimal("0")),
            max_discount=constraints.get("max_discount", Decimal("0.3")),
        )
        return Response(PricingOutputSerializer(result).data)


class LowStockView(APIView):
    @extend_schema(parameters=[LowStockFilterSerializer], responses=LowStockOutputSerializer)
    def get(self, request: Request) -> Response:
        filters = LowStockFilterSerializer(data=request.query_params)
        filters.is_valid(raise_exception=True)
        f = filters.validated_data
        days = f["sales_window_days"]
        rows = selectors.low_stock_with_sales(
            threshold=f["threshold"],
            since=timezone.now() - timedelta(days=days),
            collection=f["collection"],
            limit=f["limit"],
        )
        items = []
        for p, units in rows:
            daily = Decimal(units) / days
            items.append(
                {
                    "id": p.pk,
                    "sku": p.sku,
                    "name": p.name,
                    "collection": p.collection,
                    "stock": p.stock,
                    "units_sold": units,
                    "days_of_cover": (Decimal(p.stock) / daily).quantize(Decimal("0.1")) if daily else None,
                }
            )
        payload = {"threshold": f["threshold"], "sales_window_days": days, "count": len(items), "items": items}
        return Response(LowStockOutputSerializer(payload).data)
