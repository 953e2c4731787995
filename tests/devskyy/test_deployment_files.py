"""Deployment files stay in step with the code: every variable documented, Blueprint sane."""

from __future__ import annotations

import re
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[2]
_READ = re.compile(r'env\.\w+\(\s*"([A-Z][A-Z0-9_]+)"')
_GUNICORN_READ = re.compile(r'(?:_int\(|environ\.get\()\s*"([A-Z][A-Z0-9_]+)"')


def _documented() -> set[str]:
    text = (ROOT / ".env.example").read_text()
    return {line.split("=", 1)[0] for line in text.splitlines() if line and not line.startswith("#") and "=" in line}


def test_env_example_documents_every_variable_the_code_reads() -> None:
    read: set[str] = {"SECRET_KEY", "JWT_SECRET_KEY", "ENCRYPTION_MASTER_KEY"}  # read via _secret(name)
    for path in (ROOT / "devskyy").rglob("*.py"):
        read |= set(_READ.findall(path.read_text()))
    read |= set(_GUNICORN_READ.findall((ROOT / "gunicorn.conf.py").read_text()))
    for prefix in ("OPENAI", "ANTHROPIC", "GOOGLE_AI", "GROQ", "MISTRAL", "COHERE"):
        read |= {f"{prefix}_API_KEY", f"{prefix}_BASE_URL"}
    missing = read - _documented()
    assert not missing, f".env.example lacks {sorted(missing)}"


def test_blueprint_has_health_check_migrations_worker_and_safe_redis() -> None:
    blueprint = yaml.safe_load((ROOT / "render.yaml").read_text())
    services = {service["name"]: service for service in blueprint["services"]}
    web = services["devskyy-web"]
    assert web["healthCheckPath"] == "/health"
    assert web["startCommand"] == "gunicorn -c gunicorn.conf.py"
    assert "migrate" in web["preDeployCommand"]
    assert services["devskyy-worker"]["type"] == "worker"
    assert "celery -A devskyy.taskqueue worker" in services["devskyy-worker"]["startCommand"]
    assert services["devskyy-redis"]["maxmemoryPolicy"] == "noeviction"
    shared = {var["key"]: var for var in blueprint["envVarGroups"][0]["envVars"]}
    for secret in ("SECRET_KEY", "JWT_SECRET_KEY", "ENCRYPTION_MASTER_KEY"):
        assert shared[secret].get("generateValue") is True
    assert shared["DB_MAX_OVERFLOW"]["value"] == "5"
    assert shared["REDIS_MAX_CONNECTIONS"]["value"] == "50"
    # Web and worker are separate services with separate disks (system check core.W003).
    assert shared["MEDIA_STORAGE"]["value"] == "s3"
    assert shared["MEDIA_S3_BUCKET"]["sync"] is False
    documented = _documented()
    for service in services.values():
        for var in service.get("envVars", []):
            if "key" in var and var["key"] != "PYTHON_VERSION":
                assert var["key"] in documented, var["key"]
