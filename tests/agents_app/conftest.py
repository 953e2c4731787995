"""Fixtures for agents tests: users, seeded catalog, authenticated clients."""

from __future__ import annotations

import io

import pytest
from django.contrib.auth import get_user_model
from django.core.management import call_command
from rest_framework.test import APIClient


@pytest.fixture
def user(db):
    return get_user_model().objects.create_user(username="alice", password="correct-horse-battery-1")


@pytest.fixture
def other_user(db):
    return get_user_model().objects.create_user(username="mallory", password="correct-horse-battery-2")


@pytest.fixture
def staff_user(db):
    return get_user_model().objects.create_user(username="olivia", password="correct-horse-battery-3", is_staff=True)


@pytest.fixture
def catalog(db):
    call_command("seed_agents", stdout=io.StringIO())


@pytest.fixture
def api(user) -> APIClient:
    client = APIClient()
    client.force_authenticate(user)
    return client
