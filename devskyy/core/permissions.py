"""Role-based access for DRF views.

``RolePermission`` is a default permission class (settings REST_FRAMEWORK): safe
methods need any role in ``view.read_roles`` (default: every role), other methods a
role in ``view.write_roles`` (default: WRITE_ROLES). ``read_only`` never writes, even
if a view lists it. Public views opt out with ``PublicRoutePermission``, which only
lets a request through when its route is listed in devskyy/core/access.py.
"""

from __future__ import annotations

from typing import Any

from rest_framework.permissions import SAFE_METHODS, BasePermission
from rest_framework.request import Request

from devskyy.core.access import PUBLIC_ROUTES, SELF_SERVICE_ROUTES, route_name
from devskyy.core.roles import ALL_ROLES, WRITE_ROLES, Role, roles_of


class RolePermission(BasePermission):
    message = "Your role does not allow this action."

    def has_permission(self, request: Request, view: Any) -> bool:
        if route_name(request) in SELF_SERVICE_ROUTES:
            return bool(request.user and request.user.is_authenticated)
        roles = roles_of(request.user)
        if request.method in SAFE_METHODS:
            return bool(roles & frozenset(getattr(view, "read_roles", ALL_ROLES)))
        allowed = frozenset(getattr(view, "write_roles", WRITE_ROLES)) - {Role.READ_ONLY}
        return bool(roles & allowed)


class PublicRoutePermission(BasePermission):
    """For views that need no credentials; refuses unless the route is listed public."""

    message = "This route is not declared public."

    def has_permission(self, request: Request, view: Any) -> bool:
        return route_name(request) in PUBLIC_ROUTES
