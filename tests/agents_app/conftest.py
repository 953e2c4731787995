"""Fixtures for agents tests: users, seeded catalog, authenticated clients."""

from __future__ import annotations

import io

import pytest
from django.contrib.auth import get_user_model
from django.core.management import call_command
from rest_framework.test import APIClient

from devskyy.core.accounts import user_set_roles
from devskyy.core.roles import Role


def _with_role(user, role: Role):
    user_set_roles(user=user, roles=[role])
    return user


@pytest.fixture
def user(db):
    """A service client's user: may read and create tasks (api_user)."""
    return _with_role(
        get_user_model().objects.create_user(username="alice", password="correct-horse-battery-1"), Role.API_USER
    )


@pytest.fixture
def other_user(db):
    return _with_role(
        get_user_model().objects.create_user(username="mallory", password="correct-horse-battery-2"), Role.API_USER
    )


@pytest.fixture
def staff_user(db):
    """An operator: sees every task, may start and stop agents."""
    user = get_user_model().objects.create_user(username="olivia", password="correct-horse-battery-3", is_staff=True)
    return _with_role(user, Role.OPERATOR)


@pytest.fixture
def catalog(db):
    call_command("seed_agents", stdout=io.StringIO())


@pytest.fixture
def api(user) -> APIClient:
    client = APIClient()
    client.force_authenticate(user)
    return client


@pytest.fixture
def task_queue(monkeypatch, django_capture_on_commit_callbacks):
    """Queued tasks are collected (not sent); ``task_queue.drain()`` runs them here."""
    from devskyy.core import background
    from tests.support.task_queue import TaskQueue

    queue = TaskQueue(django_capture_on_commit_callbacks)
    monkeypatch.setattr(background, "dispatch_now", queue.dispatch)
    return queue


@pytest.fixture
def committed(django_capture_on_commit_callbacks):
    """Run a block and then its on-commit callbacks (events, enqueues), as a request would."""
    return lambda: django_capture_on_commit_callbacks(execute=True)
