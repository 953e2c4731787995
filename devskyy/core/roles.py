"""Roles (Django groups) and what each may do.

Five roles, created by a data migration as Django groups. A principal is a user
(roles = its groups; superusers count as ``admin``) or an API key (one role).
Reading needs any role; writing needs a role in ``WRITE_ROLES`` unless a view narrows
it further with ``read_roles`` / ``write_roles`` (devskyy/core/permissions.py).
``read_only`` never writes anything, whatever a view declares.
"""

from __future__ import annotations

from enum import StrEnum
from typing import Any


class Role(StrEnum):
    ADMIN = "admin"
    OPERATOR = "operator"
    DEVELOPER = "developer"
    API_USER = "api_user"
    READ_ONLY = "read_only"


ALL_ROLES: frozenset[Role] = frozenset(Role)
# Choices for serializers and the OpenAPI schema (one "Role" enum component).
ROLE_CHOICES: list[str] = [role.value for role in Role]
WRITE_ROLES: frozenset[Role] = frozenset({Role.ADMIN, Role.OPERATOR, Role.DEVELOPER, Role.API_USER})
# Managing credentials of others (API keys, provider secrets): admins only.
ADMIN_ROLES: frozenset[Role] = frozenset({Role.ADMIN})
# Reading the audit trail: the people who run the platform.
AUDIT_READ_ROLES: frozenset[Role] = frozenset({Role.ADMIN, Role.OPERATOR})


def roles_of(principal: Any) -> frozenset[Role]:
    """The roles of a request's principal (a user or an API key principal)."""
    if principal is None or not getattr(principal, "is_authenticated", False):
        return frozenset()
    explicit = getattr(principal, "roles", None)
    if explicit is not None:  # APIKeyPrincipal
        return frozenset(explicit)
    if not getattr(principal, "is_active", False):
        return frozenset()
    cached: frozenset[Role] | None = getattr(principal, "_devskyy_roles", None)
    if cached is None:
        names = set(principal.groups.values_list("name", flat=True))
        cached = frozenset(role for role in Role if role.value in names)
        if principal.is_superuser:
            cached = cached | {Role.ADMIN}
        principal._devskyy_roles = cached
    return cached
