"""The live dashboard page: staff only, linked from the admin index."""

from __future__ import annotations

import pytest
from django.contrib.auth import get_user_model
from django.test import Client

pytestmark = pytest.mark.django_db


def test_dashboard_requires_staff() -> None:
    client = Client()
    anonymous = client.get("/dashboard/")
    assert anonymous.status_code == 302
    assert "/login/" in anonymous["Location"]
    user = get_user_model().objects.create_user(username="plain", password="pw-not-staff-123")
    client.force_login(user)
    assert client.get("/dashboard/").status_code == 302


def test_staff_sees_the_dashboard_and_the_admin_links_to_it() -> None:
    staff = get_user_model().objects.create_superuser(username="op", password="pw-operator-123", email="")
    client = Client()
    client.force_login(staff)
    page = client.get("/dashboard/")
    assert page.status_code == 200
    assert b"dashboard/dashboard.js" in page.content
    assert "connect-src 'self' ws: wss:" in page["Content-Security-Policy"]
    index = client.get("/admin/")
    assert b'id="live-dashboard-link"' in index.content
    script = client.get("/static/dashboard/dashboard.js")
    assert script.status_code == 200
