"""WordPress publishing against a local WordPress REST server, and the block theme generator."""

from __future__ import annotations

import io
import json
import re
import shutil
import subprocess
import zipfile

import pytest
from django.core.management import call_command
from django.test import Client, override_settings

from agents_app.capabilities import theme
from agents_app.capabilities.wordpress import (
    WordPressAuthError,
    WordPressClient,
    WordPressPermanentError,
    WordPressTransientError,
)
from agents_app.models import AgentTask, TaskStatus
from agents_app.services.execution import task_execute
from agents_app.tools.base import get_tool
from commerce_app.models import Product
from devskyy.core.roles import Role
from tests.support.auth import access_token, bearer, make_user
from tests.support.wordpress_server import WordPressServer, wordpress_server


@pytest.fixture
def wp():
    with wordpress_server() as server:
        yield server


def _client(server: WordPressServer, password: str | None = None, attempts: int = 3) -> WordPressClient:
    return WordPressClient(
        base_url=server.url,
        user=server.user,
        app_password=password if password is not None else server.app_password,
        timeout=5,
        max_attempts=attempts,
        retry_base=0.01,
    )


def _wp_settings(server: WordPressServer, **extra):
    values = {
        "WORDPRESS_URL": server.url,
        "WORDPRESS_USER": server.user,
        "WORDPRESS_APP_PASSWORD": server.app_password,
        "WORDPRESS_RETRY_BASE_SECONDS": 0.01,
    }
    return override_settings(**{**values, **extra})


def test_create_and_update_a_post_with_an_application_password(wp: WordPressServer) -> None:
    with _client(wp) as client:
        created = client.create(kind="post", fields={"title": "Drop 7", "content": "<p>Hi</p>", "status": "draft"})
        updated = client.update(kind="post", object_id=created.id, fields={"status": "publish"})
        page = client.create(kind="page", fields={"title": "About", "content": "<p>Us</p>"})
    assert (created.status, updated.status, updated.id) == ("draft", "publish", created.id)
    assert wp.objects[created.id]["status"] == "publish"
    assert wp.objects[page.id]["type"] == "page"
    assert [r["path"] for r in wp.requests] == [
        "/wp-json/wp/v2/posts",
        f"/wp-json/wp/v2/posts/{created.id}",
        "/wp-json/wp/v2/pages",
    ]
    assert all(r["auth"] is True for r in wp.requests)


def test_a_wrong_application_password_is_a_permanent_auth_error_not_retried(wp: WordPressServer) -> None:
    with _client(wp, password="wrong pass word") as client, pytest.raises(WordPressAuthError) as caught:
        client.create(kind="post", fields={"title": "x", "content": "y"})
    assert caught.value.http_status == 401
    assert caught.value.wp_code == "incorrect_password"
    assert len(wp.requests) == 1
    assert wp.objects == {}


def test_429_and_5xx_are_retried_for_updates_and_429_for_creates(wp: WordPressServer) -> None:
    with _client(wp) as client:
        wp.fail = [(429, "0")]
        created = client.create(kind="post", fields={"title": "t", "content": "c"})
        assert len(wp.requests) == 2
        wp.fail = [(500, None), (500, None)]
        client.update(kind="post", object_id=created.id, fields={"title": "t2"})
        assert len(wp.requests) == 5
        assert wp.objects[created.id]["title"] == "t2"


def test_a_5xx_on_create_is_not_retried_and_says_the_outcome_is_unknown(wp: WordPressServer) -> None:
    wp.fail = [(500, None)]
    with _client(wp) as client, pytest.raises(WordPressTransientError) as caught:
        client.create(kind="post", fields={"title": "t", "content": "c"})
    assert caught.value.outcome_unknown is True
    assert len(wp.requests) == 1


def test_retries_run_out_into_a_transient_error(wp: WordPressServer) -> None:
    wp.fail = [(500, None)] * 3
    with _client(wp, attempts=3) as client, pytest.raises(WordPressTransientError) as caught:
        client.update(kind="page", object_id=1, fields={"title": "x"})
    assert caught.value.attempts == 3
    assert len(wp.requests) == 3


def test_unknown_object_is_a_permanent_error(wp: WordPressServer) -> None:
    with _client(wp) as client, pytest.raises(WordPressPermanentError) as caught:
        client.update(kind="post", object_id=999, fields={"title": "x"})
    assert caught.value.wp_code == "rest_post_invalid_id"


@pytest.mark.django_db
def test_publish_endpoint_runs_a_task_that_publishes_a_product_page(
    wp: WordPressServer, django_capture_on_commit_callbacks
) -> None:
    call_command("seed_agents", verbosity=0)
    product = Product.objects.create(
        sku="SIG-HOO-900",
        name="Heritage Hoodie",
        description="Heavy fleece.\n\nMade in LA.",
        price="89.00",
        category="hoodies",
        images=["https://cdn.example.com/h.jpg"],
    )
    token = access_token(make_user(Role.OPERATOR))
    with _wp_settings(wp), django_capture_on_commit_callbacks(execute=False):
        response = Client().post(
            "/api/v1/wordpress/publish", {"sku": product.sku, "status": "publish"}, "application/json", **bearer(token)
        )
        assert response.status_code == 202, response.content
        task_id = response.json()["id"]
        assert task_execute(task_id=task_id, worker="test").outcome == "completed"
    task = AgentTask.objects.get(pk=task_id)
    assert task.status == TaskStatus.COMPLETED
    assert task.action == "wordpress_publish_product"
    assert task.result is not None
    page = wp.objects[task.result["id"]]
    assert page["type"] == "page"
    assert page["title"] == "Heritage Hoodie"
    assert "<p>Made in LA.</p>" in page["content"]
    assert "89.00 USD" in page["content"]


@pytest.mark.django_db
def test_publishing_with_a_bad_password_fails_the_task_with_the_auth_error(
    wp: WordPressServer, django_capture_on_commit_callbacks
) -> None:
    call_command("seed_agents", verbosity=0)
    token = access_token(make_user(Role.OPERATOR))
    with _wp_settings(wp, WORDPRESS_APP_PASSWORD="nope nope"), django_capture_on_commit_callbacks(execute=False):
        response = Client().post(
            "/api/v1/wordpress/publish", {"title": "Hi", "content": "<p>x</p>"}, "application/json", **bearer(token)
        )
        assert response.status_code == 202
        task_execute(task_id=response.json()["id"], worker="test")
    task = AgentTask.objects.get(pk=response.json()["id"])
    assert task.status == TaskStatus.FAILED
    assert task.error_code == "wordpress_auth_failed"
    assert wp.objects == {}


@pytest.mark.django_db
def test_publishing_without_wordpress_configured_is_refused_before_any_task() -> None:
    call_command("seed_agents", verbosity=0)
    token = access_token(make_user(Role.OPERATOR))
    with override_settings(WORDPRESS_URL="", WORDPRESS_USER="", WORDPRESS_APP_PASSWORD=""):
        response = Client().post(
            "/api/v1/wordpress/publish", {"title": "Hi", "content": "x"}, "application/json", **bearer(token)
        )
    assert response.status_code == 503
    assert response.json()["error"]["code"] == "integration_not_configured"
    assert AgentTask.objects.count() == 0


# --- theme -------------------------------------------------------------------------------------------
_PALETTE = [
    {"slug": "background", "name": "Black", "color": "#0B0B0B"},
    {"slug": "foreground", "name": "Ivory", "color": "#f5f1ee"},
    {"slug": "accent", "name": "Rose Gold", "color": "#b76e79"},
]


class _Ctx:
    """A minimal tool context for calling a tool function directly."""

    agent_slug: str = "test"
    task_id: str | None = None

    def checkpoint(self, progress: int) -> None:
        return None


_BLOCK = re.compile(r"<!-- (/?)wp:([a-z0-9/-]+)(?: (\{.*?\}))? ?(/?)-->")


def _check_blocks(path: str, text: str, part_files: set[str]) -> None:
    stack: list[str] = []
    for match in _BLOCK.finditer(text):
        closing, name, attrs, self_closing = (match.group(i) for i in range(1, 5))
        if attrs:
            parsed = json.loads(attrs)
            if name == "template-part":
                assert f"parts/{parsed['slug']}.html" in part_files, (path, parsed)
        if closing:
            assert stack, f"{path}: </{name}> closes nothing"
            assert stack.pop() == name, f"{path}: unbalanced </{name}>"
        elif not self_closing:
            stack.append(name)
    assert stack == [], f"{path}: unclosed {stack}"


def _check_php(source: str, tmp_path) -> str:
    php = shutil.which("php")
    if php:
        target = tmp_path / "functions.php"
        target.write_text(source)
        result = subprocess.run([php, "-l", str(target)], capture_output=True, text=True, check=False)
        assert result.returncode == 0, result.stdout + result.stderr
        return "php -l"
    # No PHP here: a conservative structural check only.
    assert source.startswith("<?php\n")
    for opening, closing in (("{", "}"), ("(", ")")):
        assert source.count(opening) == source.count(closing)
    return "structure"


@pytest.mark.django_db
def test_generated_theme_zip_unpacks_to_a_valid_block_theme(tmp_path, settings) -> None:
    settings.MEDIA_ROOT = str(tmp_path / "media")
    token = access_token(make_user(Role.DEVELOPER))
    body = {
        "name": "SkyyRose Noir",
        "description": "Dark luxury theme for the Black Rose collection.",
        "author": "SkyyRose",
        "palette": _PALETTE,
        "fonts": {"heading": "Playfair Display", "body": {"family": "Inter", "fallback": "sans-serif"}},
    }
    response = Client().post("/api/v1/wordpress/generate-theme", body, "application/json", **bearer(token))
    assert response.status_code == 201, response.content
    created = response.json()
    download = Client().get(created["download_url"], **bearer(access_token(make_user(Role.READ_ONLY))))
    assert download.status_code == 200
    assert download["Content-Disposition"].startswith('attachment; filename="skyyrose-noir.zip"')
    data = download.getvalue()
    assert len(data) == created["size_bytes"]

    archive = zipfile.ZipFile(io.BytesIO(data))
    assert archive.testzip() is None
    names = set(archive.namelist())
    assert names == set(created["files"])
    root = "skyyrose-noir/"
    required = {"style.css", "theme.json", "functions.php", "templates/index.html", "templates/single.html",
                "templates/page.html", "templates/archive.html", "templates/single-product.html",
                "parts/header.html", "parts/footer.html"}  # fmt: skip
    assert {root + r for r in required} <= names
    assert all(n.startswith(root) and ".." not in n for n in names)

    style = archive.read(root + "style.css").decode()
    header = dict(re.findall(r"^([A-Z][A-Za-z ]+): (.+)$", style.split("*/")[0], re.MULTILINE))
    assert header["Theme Name"] == "SkyyRose Noir"
    assert header["Author"] == "SkyyRose"
    assert header["Text Domain"] == "skyyrose-noir"
    assert header["Version"] == "1.0.0"
    assert "Requires at least" in header
    assert header["License"].startswith("GNU General Public License")

    config = json.loads(archive.read(root + "theme.json"))
    assert config["version"] == 3
    assert config["settings"]["color"]["palette"] == [{**p, "color": p["color"].lower()} for p in _PALETTE]
    families = {f["slug"]: f for f in config["settings"]["typography"]["fontFamilies"]}
    assert families["heading"]["fontFamily"] == '"Playfair Display", serif'
    assert families["body"]["fontFamily"] == '"Inter", sans-serif'
    assert config["styles"]["color"]["background"] == "var(--wp--preset--color--background)"
    assert {p["name"] for p in config["templateParts"]} == {"header", "footer"}

    part_files = {n[len(root) :] for n in names if n.startswith(root + "parts/")}
    for name in names:
        if name.endswith(".html"):
            _check_blocks(name, archive.read(name).decode(), part_files)
    assert "woocommerce/legacy-template" in archive.read(root + "templates/single-product.html").decode()

    php = archive.read(root + "functions.php").decode()
    assert "add_theme_support( 'woocommerce' );" in php
    assert "function skyyrose_noir_setup()" in php
    _check_php(php, tmp_path)


@pytest.mark.parametrize(
    ("body", "path"),
    [
        ({"name": ""}, "/name"),
        ({"name": "Bad */ name"}, "/name"),
        ({"name": "Ok", "slug": "Bad Slug"}, "/slug"),
        ({"name": "Ok", "palette": [{"slug": "bg", "name": "Bg", "color": "red; }"}]}, "/palette/0/color"),
        ({"name": "Ok", "palette": [{"slug": "bg", "name": "Bg", "color": "#000"}] * 2}, "/palette/1/slug"),
        ({"name": "Ok", "fonts": {"heading": "Inter'); exit; //"}}, "/fonts/heading/family"),
        ({"name": "Ok", "fonts": {"body": {"family": "Inter", "fallback": "fantasy"}}}, "/fonts/body/fallback"),
    ],
)
def test_unsafe_theme_input_is_refused(body: dict, path: str) -> None:
    with pytest.raises(theme.InvalidThemeSpecError) as caught:
        theme.spec_from_input(body)
    assert caught.value.details["errors"][0]["path"] == path


@pytest.mark.django_db
def test_theme_endpoint_refusals_and_unknown_downloads(tmp_path, settings) -> None:
    settings.MEDIA_ROOT = str(tmp_path / "media")
    auth = bearer(access_token(make_user(Role.DEVELOPER)))
    bad = Client().post("/api/v1/wordpress/generate-theme", {"name": "x", "slug": "UPPER"}, "application/json", **auth)
    assert bad.status_code == 400
    assert bad.json()["error"]["code"] == "invalid_theme_spec"
    assert not (tmp_path / "media").exists()
    missing = Client().get("/api/v1/wordpress/themes/00000000-0000-0000-0000-000000000001/download", **auth)
    assert missing.status_code == 404


@pytest.mark.django_db
def test_theme_tool_uses_the_brand_defaults(tmp_path, settings) -> None:
    settings.MEDIA_ROOT = str(tmp_path / "media")
    result = get_tool("wordpress_generate_theme").fn(_Ctx(), {"name": "Brand Default"})
    path, _ = theme.theme_file(result["id"])
    with zipfile.ZipFile(tmp_path / "media" / path) as archive:
        config = json.loads(archive.read("brand-default/theme.json"))
    assert [p["color"] for p in config["settings"]["color"]["palette"]] == [p["color"] for p in theme.DEFAULT_PALETTE]
