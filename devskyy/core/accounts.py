"""Account services: operators and their credentials."""

from __future__ import annotations

import secrets
from dataclasses import dataclass

from django.contrib.auth import get_user_model
from django.contrib.auth.models import AbstractBaseUser
from django.db import transaction

from devskyy.core.errors import ConflictError


@dataclass(frozen=True)
class CreatedOperator:
    user: AbstractBaseUser
    password: str


def operator_exists() -> bool:
    return get_user_model().objects.filter(is_superuser=True, is_active=True).exists()


@transaction.atomic
def operator_create(*, username: str, email: str = "", password: str | None = None) -> CreatedOperator:
    """Create an admin-capable operator; the password is returned once, stored hashed."""
    user_model = get_user_model()
    if user_model.objects.filter(username=username).exists():
        raise ConflictError(f"A user named {username!r} already exists.")
    password = password or secrets.token_urlsafe(18)
    user = user_model.objects.create_superuser(username=username, email=email, password=password)
    return CreatedOperator(user=user, password=password)
