"""Tripo and FASHN clients against local servers speaking their documented APIs."""

from __future__ import annotations

import pytest

from agents_app.media.clients import FashnClient, TripoClient
from agents_app.media.exceptions import (
    ProviderAuthError,
    ProviderCreditError,
    ProviderPermanentError,
    ProviderTransientError,
)
from agents_app.media.fetch import is_glb, sniff_image
from tests.support.media_servers import FashnServer, TripoServer, fashn_server, minimal_glb, png, tripo_server


@pytest.fixture
def tripo():
    with tripo_server() as server:
        yield server


@pytest.fixture
def fashn():
    with fashn_server() as server:
        yield server


def _tripo(server: TripoServer, key: str | None = None, attempts: int = 3) -> TripoClient:
    return TripoClient(
        base_url=server.url, api_key=key or server.api_key, timeout=5, max_attempts=attempts, retry_base=0.01
    )


def _fashn(server: FashnServer, key: str | None = None, attempts: int = 3) -> FashnClient:
    return FashnClient(
        base_url=server.url, api_key=key or server.api_key, timeout=5, max_attempts=attempts, retry_base=0.01
    )


def test_test_files_are_a_real_gltf_binary_and_real_pngs() -> None:
    glb = minimal_glb()
    assert is_glb(glb)
    assert not is_glb(glb[:-4])  # the header's length no longer matches
    assert not is_glb(b"glTF" + b"\0" * 30)
    assert sniff_image(png()) == "png"
    assert sniff_image(b"<html>") is None


def test_a_text_task_is_created_and_advances_to_success_with_model_urls(tripo: TripoServer) -> None:
    with _tripo(tripo) as client:
        task_id = client.create_task({"type": "text_to_model", "prompt": "a black hoodie", "texture": True})
        states = [client.get_task(task_id) for _ in range(3)]
    assert [s.status for s in states] == ["queued", "running", "success"]
    assert states[1].progress == 40
    assert set(states[2].outputs) == {"pbr_model", "rendered_image"}
    assert tripo.requests[0]["body"] == {"type": "text_to_model", "prompt": "a black hoodie", "texture": True}
    assert all(r["auth"] for r in tripo.requests)


def test_an_upload_returns_a_token_the_image_task_accepts(tripo: TripoServer) -> None:
    with _tripo(tripo) as client:
        token = client.upload_image(content=png(), filename="source.png", content_type="image/png")
        task_id = client.create_task({"type": "image_to_model", "file": {"type": "png", "file_token": token}})
    assert tripo.uploads[token] == png()
    assert task_id in tripo.tasks


def test_a_wrong_key_is_an_auth_error_sent_once(tripo: TripoServer) -> None:
    with _tripo(tripo, key="tsk_wrong") as client, pytest.raises(ProviderAuthError) as caught:
        client.create_task({"type": "text_to_model", "prompt": "x"})
    assert caught.value.http_status == 401
    assert caught.value.provider_code == "1002"
    assert "TRIPO_API_KEY" in caught.value.message
    assert "tsk_wrong" not in caught.value.message
    assert len(tripo.requests) == 1


def test_no_credit_is_its_own_permanent_error_not_retried(tripo: TripoServer) -> None:
    tripo.faults["create"] = [(403, None, None)]
    with _tripo(tripo) as client, pytest.raises(ProviderCreditError):
        client.create_task({"type": "text_to_model", "prompt": "x"})
    assert len(tripo.requests) == 1


def test_a_bad_request_is_permanent(tripo: TripoServer) -> None:
    with _tripo(tripo) as client, pytest.raises(ProviderPermanentError) as caught:
        client.create_task({"type": "text_to_model", "prompt": "x", "file": "http://10.0.0.1/x"})
    assert caught.value.http_status == 400


def test_429_with_a_short_retry_after_is_retried_and_succeeds(tripo: TripoServer) -> None:
    tripo.faults["create"] = [(429, "0", None)]
    with _tripo(tripo) as client:
        task_id = client.create_task({"type": "text_to_model", "prompt": "x"})
    assert task_id in tripo.tasks
    assert [r["op"] for r in tripo.requests] == ["create", "create"]


def test_a_long_retry_after_is_not_slept_but_handed_back(tripo: TripoServer) -> None:
    tripo.faults["create"] = [(429, "120", None)]
    with _tripo(tripo) as client, pytest.raises(ProviderTransientError) as caught:
        client.create_task({"type": "text_to_model", "prompt": "x"})
    assert caught.value.retry_after == 120.0
    assert caught.value.outcome_unknown is False
    assert len(tripo.requests) == 1


def test_5xx_on_status_is_retried_until_attempts_run_out(tripo: TripoServer) -> None:
    with _tripo(tripo, attempts=3) as client:
        task_id = client.create_task({"type": "text_to_model", "prompt": "x"})
        tripo.faults["status"] = [(500, None, None)] * 3
        with pytest.raises(ProviderTransientError) as caught:
            client.get_task(task_id)
        assert caught.value.attempts == 3
        tripo.faults["status"] = [(503, None, None)]
        assert client.get_task(task_id).status == "queued"


def test_an_unknown_task_is_permanent(tripo: TripoServer) -> None:
    with _tripo(tripo) as client, pytest.raises(ProviderPermanentError) as caught:
        client.get_task("no-such-task")
    assert caught.value.http_status == 404


def test_a_fashn_run_with_base64_images_completes_with_an_output_url(fashn: FashnServer) -> None:
    import base64

    image = "data:image/png;base64," + base64.b64encode(png()).decode()
    with _fashn(fashn) as client:
        run_id = client.run(
            model_name="tryon-v1.6", inputs={"model_image": image, "garment_image": image, "category": "tops"}
        )
        states = [client.status(run_id) for _ in range(4)]
    assert [s.status for s in states] == ["starting", "in_queue", "processing", "completed"]
    assert list(states[-1].outputs) == ["image_1"]


def test_fashn_refuses_bad_inputs_and_reports_failed_runs(fashn: FashnServer) -> None:
    with _fashn(fashn) as client:
        with pytest.raises(ProviderPermanentError):
            client.run(model_name="tryon-v1.6", inputs={"model_image": "data:image/png;base64,AAAA"})
        fashn.script = ["processing", "failed"]
        run_id = client.run(
            model_name="tryon-v1.6", inputs={"model_image": "https://x.test/a.png", "garment_image": "https://x.test/b"}
        )
        client.status(run_id)
        failed = client.status(run_id)
    assert (failed.status, failed.error_name) == ("failed", "ImageLoadError")


def test_fashn_out_of_credits_is_not_retried_but_its_rate_limit_is(fashn: FashnServer) -> None:
    fashn.faults["create"] = [(429, None, "OutOfCredits")]
    inputs = {"model_image": "https://x.test/a.png", "garment_image": "https://x.test/b.png"}
    with _fashn(fashn) as client:
        with pytest.raises(ProviderCreditError):
            client.run(model_name="tryon-v1.6", inputs=inputs)
        assert len(fashn.requests) == 1
        fashn.faults["create"] = [(429, "0", "RateLimitExceeded")]
        assert client.run(model_name="tryon-v1.6", inputs=inputs)
    assert len(fashn.requests) == 3


def test_fashn_wrong_key_is_an_auth_error(fashn: FashnServer) -> None:
    with _fashn(fashn, key="nope") as client, pytest.raises(ProviderAuthError) as caught:
        client.status("anything")
    assert caught.value.provider_code == "UnauthorizedAccess"
