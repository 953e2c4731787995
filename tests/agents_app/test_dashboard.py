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


def test_collectstatic_with_the_production_storage_hashes_the_dashboard_script(tmp_path, settings) -> None:
    """Production serves static files through WhiteNoise from collectstatic's output;
    the manifest storage must process every file (admin, API docs, dashboard)."""
    import io
    import json

    from django.core.management import call_command
    from django.templatetags.static import static

    settings.STATIC_ROOT = tmp_path
    settings.STORAGES = {
        **settings.STORAGES,
        "staticfiles": {"BACKEND": "whitenoise.storage.CompressedManifestStaticFilesStorage"},
    }
    settings.DEBUG = False
    call_command("collectstatic", "--noinput", stdout=io.StringIO())
    manifest = json.loads((tmp_path / "staticfiles.json").read_text())
    hashed = manifest["paths"]["dashboard/dashboard.js"]
    assert hashed != "dashboard/dashboard.js"
    assert (tmp_path / hashed).is_file()
    assert (tmp_path / (hashed + ".gz")).is_file()  # compressed copy for WhiteNoise
    assert "admin/css/base.css" in manifest["paths"]
    assert static("dashboard/dashboard.js") == "/static/" + hashed
