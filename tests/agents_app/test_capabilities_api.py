"""Code scanning/fixing and ML prediction endpoints: answers, refusals and roles."""

from __future__ import annotations

import pytest
from django.test import Client

from agents_app.tools.base import get_tool
from devskyy.core.roles import Role
from tests.support.auth import access_token, bearer, make_api_key, make_user

pytestmark = pytest.mark.django_db


class _Ctx:
    """A minimal tool context for calling a tool function directly."""

    agent_slug: str = "test"
    task_id: str | None = None

    def checkpoint(self, progress: int) -> None:
        return None


VULNERABLE = "import subprocess\n\ndef run(cmd):\n    subprocess.call(cmd, shell=True)\n    eval(cmd)\n"


def _post(path: str, body: object, role: Role = Role.DEVELOPER):
    token = access_token(make_user(role))
    return Client().post(path, body, content_type="application/json", **bearer(token))


def test_scan_reports_security_issues_with_locations() -> None:
    response = _post("/api/v1/code/scan", {"files": [{"name": "app/run.py", "content": VULNERABLE}]})
    assert response.status_code == 200, response.content
    body = response.json()
    rules = {issue["rule"]: issue for issue in body["issues"]}
    assert {"S602", "S307"} <= set(rules)
    assert (rules["S307"]["file"], rules["S307"]["line"], rules["S307"]["severity"]) == ("app/run.py", 5, "high")
    assert body["summary"]["total"] == len(body["issues"])
    assert body["analyzer"] == "ruff"


def test_fix_returns_fixed_source_and_diff_for_an_api_key() -> None:
    key = make_api_key(Role.API_USER)
    response = Client().post(
        "/api/v1/code/fix",
        {"files": [{"name": "tidy.py", "content": "import os\nimport sys\n\nprint(os.sep)\n"}]},
        content_type="application/json",
        HTTP_X_API_KEY=key.key,
    )
    assert response.status_code == 200, response.content
    fixed = response.json()["files"][0]
    assert fixed["changed"] is True
    assert "import sys" not in fixed["content"]
    assert "-import sys" in fixed["diff"]
    assert response.json()["fixed_count"] >= 1


@pytest.mark.parametrize(
    ("body", "code"),
    [
        ({}, "validation_error"),
        ({"files": []}, "validation_error"),
        ({"files": [{"name": "x.py"}]}, "validation_error"),
        ({"files": [{"name": "../etc/passwd.py", "content": "x = 1\n"}]}, "invalid_submission"),
        ({"files": [{"name": "/abs/path.py", "content": "x = 1\n"}]}, "invalid_submission"),
        ({"files": [{"name": "notes.txt", "content": "x = 1\n"}]}, "invalid_submission"),
        ({"files": [{"name": "a.py", "content": "x"}, {"name": "a.py", "content": "y"}]}, "invalid_submission"),
        ({"files": [{"name": "nul.py", "content": "x = 1\u0000\n"}]}, None),
        ({"files": [{"name": "big.py", "content": "x = 1\n" * 40_000}]}, "validation_error"),
    ],
)
def test_invalid_submissions_get_a_400_envelope(body: dict, code: str | None) -> None:
    for path in ("/api/v1/code/scan", "/api/v1/code/fix"):
        response = _post(path, body)
        assert response.status_code == 400, response.content
        error = response.json()["error"]
        assert error["message"]
        if code is not None:
            assert error["code"] == code


def test_operators_and_read_only_users_may_not_run_the_analyser() -> None:
    body = {"files": [{"name": "a.py", "content": "x = 1\n"}]}
    assert _post("/api/v1/code/scan", body, Role.OPERATOR).status_code == 403
    assert _post("/api/v1/code/fix", body, Role.READ_ONLY).status_code == 403
    assert _post("/api/v1/code/scan", body, Role.ADMIN).status_code == 200


def test_code_tools_are_registered_with_a_files_schema() -> None:
    tool = get_tool("code_scan")
    assert tool.input_schema["required"] == ["files"]
    assert get_tool("code_fix").fn(_Ctx(), {"files": [{"name": "t.py", "content": "import sys\n"}]})["fixed_count"] == 1


# --- ML ---------------------------------------------------------------------------------------
def _predict(body: dict, role: Role = Role.API_USER):
    return _post("/api/v1/ml/predict", body, role)


def test_predict_sentiment_from_given_texts() -> None:
    response = _predict(
        {
            "model_type": "sentiment_analysis",
            "data": {
                "texts": ["I love this hoodie, the fit is perfect!", {"id": "r2", "text": "Terrible. It ripped."}]
            },
        }
    )
    assert response.status_code == 200, response.content
    body = response.json()
    labels = [t["label"] for t in body["predictions"]["texts"]]
    assert labels == ["positive", "negative"]
    assert body["predictions"]["texts"][1]["id"] == "r2"
    assert body["data_source"] == "request"
    assert body["data_volume"]["texts"] == 2
    assert body["model"]["name"] == "vader_lexicon"


@pytest.mark.parametrize(
    ("body", "code"),
    [
        ({"model_type": "astrology"}, "validation_error"),
        ({"model_type": "sentiment_analysis"}, "invalid_prediction_input"),
        ({"model_type": "sentiment_analysis", "data": {"texts": []}}, "invalid_prediction_input"),
        ({"model_type": "sentiment_analysis", "data": [1, 2]}, "validation_error"),
        ({"model_type": "demand_forecasting", "data": {"series": [{"sku": "A"}]}}, "invalid_prediction_input"),
        ({"model_type": "demand_forecasting", "parameters": {"horizon_weeks": 500}}, "invalid_prediction_input"),
        ({"model_type": "trend_prediction", "confidence_threshold": 1.5}, "validation_error"),
    ],
)
def test_bad_prediction_requests_are_refused_with_400(body: dict, code: str) -> None:
    response = _predict(body)
    assert response.status_code == 400, response.content
    assert response.json()["error"]["code"] == code


def test_too_few_data_give_a_422_insufficient_data() -> None:
    response = _predict({"model_type": "demand_forecasting", "data": {"series": [{"sku": "A", "history": [1, 2, 3]}]}})
    assert response.status_code == 422, response.content
    assert response.json()["error"]["code"] == "insufficient_data"
    # An empty shop: nothing to segment.
    response = _predict({"model_type": "customer_segmentation"})
    assert response.status_code == 422
    assert response.json()["error"]["details"]["data_volume"]["customers"] == 0


def test_read_only_users_cannot_run_predictions() -> None:
    response = _predict({"model_type": "trend_prediction"}, Role.READ_ONLY)
    assert response.status_code == 403


def test_every_model_type_is_a_registered_tool() -> None:
    for model_type in (
        "demand_forecasting",
        "customer_segmentation",
        "dynamic_pricing",
        "trend_prediction",
        "sentiment_analysis",
    ):
        tool = get_tool(f"ml_{model_type}")
        assert "data" in tool.input_schema["properties"]
