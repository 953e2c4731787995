"""Start-up refuses bad configuration with a message naming the variable."""

from __future__ import annotations

import json

import pytest

from tests.support.servers import manage

PRODUCTION = {
    "ENVIRONMENT": "production",
    "SECRET_KEY": "k" * 20 + "QwErTy-uIoP_aSdF1234567890zx",
    "JWT_SECRET_KEY": "j" * 20 + "ZxCvBnM-1234567890_qwertyuiop",
    "ENCRYPTION_MASTER_KEY": "e" * 20 + "PlOkIjUhYgTfRdEsWaQ-0987654321",
    "ALLOWED_HOSTS": "api.devskyy.app",
    "DATABASE_URL": "postgres://devskyy@db.internal:5432/devskyy",
    "REDIS_URL": "redis://cache.internal:6379/0",
    "MEDIA_STORAGE": "s3",
    "MEDIA_S3_BUCKET": "devskyy-media",
}


def _check(env: dict[str, str], *args: str):
    return manage(["check", *args], env)


@pytest.mark.parametrize(
    ("env", "names"),
    [
        ({"DATABASE_URL": "mysql://x@y/z"}, "DATABASE_URL"),
        ({"DATABASE_URL": "postgres://u@h:notaport/db"}, "DATABASE_URL"),
        ({"DATABASE_URL": "postgres://u@h:5432"}, "DATABASE_URL"),
        ({"DEBUG": "yes"}, "DEBUG"),
        ({"REDIS_URL": "http://cache"}, "REDIS_URL"),
        ({"RATE_LIMIT_PER_MINUTE": "lots"}, "RATE_LIMIT_PER_MINUTE"),
        ({"CORS_ORIGIN_REGEXES": r"^https://.*\.vercel\.app"}, "CORS_ORIGIN_REGEXES"),
        ({"ENVIRONMENT": "prod"}, "ENVIRONMENT"),
        ({"MEDIA_STORAGE": "ftp"}, "MEDIA_STORAGE"),
        ({"MEDIA_STORAGE": "s3"}, "MEDIA_S3_BUCKET"),
        (
            {"MEDIA_STORAGE": "s3", "MEDIA_S3_BUCKET": "b", "MEDIA_S3_ENDPOINT_URL": "r2.example.com"},
            "MEDIA_S3_ENDPOINT_URL",
        ),
        ({"MEDIA_STORAGE": "s3", "MEDIA_S3_BUCKET": "b", "MEDIA_S3_MAX_ATTEMPTS": "0"}, "MEDIA_S3_MAX_ATTEMPTS"),
    ],
)
def test_invalid_values_stop_start_up_naming_the_variable(env: dict[str, str], names: str) -> None:
    result = _check(env)
    assert result.returncode == 2
    last_line = result.stderr.strip().splitlines()[-1]
    assert last_line.startswith("Configuration error:")
    assert names in last_line
    assert "Traceback" not in result.stderr


@pytest.mark.parametrize(
    "missing", ["SECRET_KEY", "JWT_SECRET_KEY", "ENCRYPTION_MASTER_KEY", "ALLOWED_HOSTS", "DATABASE_URL", "REDIS_URL"]
)
def test_production_refuses_to_start_without_required_settings(missing: str) -> None:
    env = {k: v for k, v in PRODUCTION.items() if k != missing}
    result = _check(env)
    assert result.returncode != 0
    assert f"{missing} is required" in result.stderr


def test_production_refuses_debug_and_wildcard_hosts() -> None:
    assert "DEBUG must be false" in _check({**PRODUCTION, "DEBUG": "true"}).stderr
    assert "'*' is refused" in _check({**PRODUCTION, "ALLOWED_HOSTS": "*"}).stderr


def test_production_refuses_short_secrets() -> None:
    result = _check({**PRODUCTION, "JWT_SECRET_KEY": "short"})
    assert result.returncode != 0
    assert "JWT_SECRET_KEY must be at least 32 characters" in result.stderr


def test_deploy_check_is_clean_with_production_settings() -> None:
    result = _check(PRODUCTION, "--deploy", "--fail-level", "WARNING")
    assert result.returncode == 0, result.stderr
    assert "System check identified no issues" in result.stdout


def test_production_warns_when_workers_and_web_would_keep_files_on_separate_disks() -> None:
    on_disk = {k: v for k, v in PRODUCTION.items() if not k.startswith("MEDIA_")}
    warned = _check(on_disk)
    assert warned.returncode == 0, warned.stderr
    assert "core.W003" in warned.stderr
    assert "MEDIA_STORAGE=s3" in warned.stderr
    assert "core.W003" not in _check(PRODUCTION).stderr
    assert "core.W003" not in _check({}).stderr  # embedded: one process, one disk


def test_embedded_mode_generates_secrets_once_and_every_process_shares_them(tmp_path) -> None:
    stored = tmp_path / "var" / "secrets.json"
    env = {"EMBEDDED_SECRETS_FILE": str(stored)}
    show = [
        "shell",
        "-v",
        "0",
        "-c",
        "from django.conf import settings as s; print(s.ENCRYPTION_MASTER_KEY, s.JWT_SECRET_KEY)",
    ]

    first = manage(show, env)
    second = manage(show, env)

    assert first.returncode == 0, first.stderr
    assert "SECRET_KEY, JWT_SECRET_KEY, ENCRYPTION_MASTER_KEY generated once" in first.stderr
    assert first.stdout.split() == second.stdout.split()
    assert len(first.stdout.split()) == 2
    assert stored.stat().st_mode & 0o777 == 0o600
    assert json.loads(stored.read_text())["ENCRYPTION_MASTER_KEY"] == first.stdout.split()[0]
    # A key given in the environment wins over the stored one.
    given = manage(show, {**env, "JWT_SECRET_KEY": "j" * 40})
    assert given.stdout.split() == [first.stdout.split()[0], "j" * 40]


def test_a_damaged_embedded_secrets_file_is_a_clear_configuration_error(tmp_path) -> None:
    stored = tmp_path / "secrets.json"
    stored.write_text("{not json")
    result = _check({"EMBEDDED_SECRETS_FILE": str(stored)})
    assert result.returncode == 2
    assert "embedded secrets file" in result.stderr
