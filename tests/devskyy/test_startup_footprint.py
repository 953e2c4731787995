"""A production web or task process loads only what serving needs (PERF P6/P7).

The LLM SDKs (openai, anthropic: ~3,700 modules), numpy and daphne's Twisted stack
together cost every process ~90 MB and most of its start-up; they are imported where
they are used (a provider call, a prediction, ``runserver``), as is boto3 (the first
file stored in or read from a bucket).
"""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from tests.devskyy.test_startup import PRODUCTION
from tests.support.servers import ROOT, base_env

# boto3/botocore: PRODUCTION keeps files in a bucket (MEDIA_STORAGE=s3); they load with
# the first file stored or served (+22.5 MB, README "Where files live").
HEAVY = ("anthropic", "openai", "numpy", "twisted", "autobahn", "daphne", "boto3", "botocore")

_PROBE = """
import json, sys
import django
django.setup()
{extra}
print(json.dumps(sorted(m for m in {heavy!r} if m in sys.modules)))
"""


def _loaded(extra: str, env: dict[str, str]) -> list[str]:
    code = _PROBE.format(extra=extra, heavy=HEAVY)
    done = subprocess.run(
        [sys.executable, "-c", code],
        cwd=ROOT,
        env=base_env({"DJANGO_SETTINGS_MODULE": "devskyy.settings", **env}),
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    loaded: list[str] = json.loads(done.stdout.strip().splitlines()[-1])
    return loaded


@pytest.mark.slow
def test_a_production_web_process_starts_without_the_heavy_libraries() -> None:
    extra = "import devskyy.asgi\nfrom django.urls import get_resolver\nget_resolver().url_patterns"
    assert _loaded(extra, PRODUCTION) == []


@pytest.mark.slow
def test_a_task_worker_starts_without_the_heavy_libraries() -> None:
    extra = (
        "from devskyy.taskqueue import app\napp.loader.import_default_modules()\n"
        "import agents_app.tools\nagents_app.tools.load()\n"
        "from celery.signals import worker_init\nworker_init.send(sender=None)"
    )
    assert _loaded(extra, PRODUCTION) == []


@pytest.mark.slow
def test_the_heavy_libraries_load_when_used() -> None:
    extra = (
        "from agents_app.capabilities.ml import predict\n"
        "predict(model_type='trend_prediction', data={'series': [{'group': 'a', 'units': [1, 2, 3, 4, 5, 6, 7]}]})\n"
        "from agents_app.llm.providers import ProviderConfig, adapter_for\n"
        "for kind in ('openai', 'anthropic'):\n"
        "    adapter_for(ProviderConfig(kind, kind, 'k', 'http://127.0.0.1:9', 'm', 1, 'env'))\n"
    )
    assert {"numpy", "openai", "anthropic"} <= set(_loaded(extra, {}))


@pytest.mark.slow
def test_development_keeps_daphne_for_runserver() -> None:
    assert "daphne" in _loaded("", {})
