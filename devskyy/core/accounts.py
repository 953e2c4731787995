"""Account services: operators, users and their roles."""

from __future__ import annotations

import secrets
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from django.contrib.auth import get_user_model
from django.contrib.auth.models import AbstractBaseUser, Group
from django.db import transaction

from devskyy.core.audit import audit_record
from devskyy.core.errors import ConflictError, DomainError
from devskyy.core.roles import Role


@dataclass(frozen=True)
class CreatedOperator:
    user: AbstractBaseUser
    password: str


def operator_exists() -> bool:
    return get_user_model().objects.filter(is_superuser=True, is_active=True).exists()


def _groups(roles: Iterable[Role]) -> list[Group]:
    # The data migration creates the five groups; get_or_create keeps this working on a
    # database flushed since (tests, `flush`), and the names can only come from Role.
    return [Group.objects.get_or_create(name=role.value)[0] for role in sorted(roles)]


@transaction.atomic
def user_set_roles(*, user: Any, roles: Iterable[Role | str], actor: Any = None) -> frozenset[Role]:
    """Replace the user's role groups (other groups are left alone)."""
    try:
        parsed = frozenset(Role(role) for role in roles)
    except ValueError:
        raise DomainError(
            f"Unknown role; roles are {', '.join(r.value for r in Role)}.", code="validation_error"
        ) from None
    user.groups.remove(*Group.objects.filter(name__in=[r.value for r in Role]))
    user.groups.add(*_groups(parsed))
    if hasattr(user, "_devskyy_roles"):
        del user._devskyy_roles
    audit_record(
        action="user.roles.set",
        actor=actor,
        target_type="user",
        target_id=user.get_username(),
        details={"roles": sorted(r.value for r in parsed)},
    )
    return parsed


@transaction.atomic
def operator_create(*, username: str, email: str = "", password: str | None = None) -> CreatedOperator:
    """Create an admin-capable operator (roles ``operator`` and ``admin``); the password
    is returned once and stored hashed."""
    user_model = get_user_model()
    if user_model.objects.filter(username=username).exists():
        raise ConflictError(f"A user named {username!r} already exists.")
    password = password or secrets.token_urlsafe(18)
    user = user_model.objects.create_superuser(username=username, email=email, password=password)
    user.groups.add(*_groups([Role.OPERATOR, Role.ADMIN]))
    audit_record(
        action="user.operator.created",
        actor_label="system",
        target_type="user",
        target_id=username,
        details={"roles": [Role.ADMIN.value, Role.OPERATOR.value]},
    )
    return CreatedOperator(user=user, password=password)
