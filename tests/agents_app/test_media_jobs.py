"""3D and try-on jobs end to end: API -> job steps -> local Tripo/FASHN -> storage -> download.

Every outside service is a local server speaking its documented API
(tests/support/media_servers.py). ``drive`` runs the job's steps in this thread, the
same ``media_job_step`` the queue task runs, honouring each step's countdown; the
queue hop itself is exercised on PostgreSQL in test_media_queue.py (the embedded
pass's shared in-memory SQLite locks whole tables across threads).
"""

from __future__ import annotations

import base64
import time
from decimal import Decimal
from typing import Any

import pytest
from django.test import Client

from agents_app.llm.models import DailyBudget, SpendLedgerEntry
from agents_app.media.models import MediaFile, MediaJob, MediaStatus
from agents_app.media.services.steps import media_job_step
from commerce_app.models import Product
from devskyy.core.models import AuditLog
from devskyy.core.roles import Role
from devskyy.feed.models import FeedEvent
from tests.support.auth import access_token, bearer, make_api_key, make_user, security_events
from tests.support.media_servers import (
    FashnServer,
    ImageHost,
    TripoServer,
    fashn_server,
    image_host,
    minimal_glb,
    png,
    tripo_server,
)

TEXT = "/api/v1/media/3d/generate/text"
IMAGE = "/api/v1/media/3d/generate/image"
TRYON = "/api/v1/media/tryon"


@pytest.fixture
def media(settings, tmp_path):
    settings.MEDIA_ROOT = str(tmp_path)
    settings.ENABLE_3D_GENERATION = True
    settings.MEDIA_POLL_INITIAL_SECONDS = 0.02
    settings.MEDIA_POLL_MAX_SECONDS = 0.1
    settings.MEDIA_RETRY_BASE_SECONDS = 0.01
    settings.MEDIA_HTTP_TIMEOUT_SECONDS = 5
    # Steps are queued to the broker (in-memory embedded, Redis in the services pass)
    # where no worker takes them: ``drive`` runs them here.
    settings.TASKS_EMBEDDED = False
    with tripo_server() as tripo, fashn_server() as fashn, image_host() as images:
        settings.TRIPO_API_KEY, settings.TRIPO_BASE_URL = tripo.api_key, tripo.url
        settings.FASHN_API_KEY, settings.FASHN_BASE_URL = fashn.api_key, fashn.url
        settings.MEDIA_UNSAFE_ALLOWED_ADDRESSES = [("127.0.0.1", s.port) for s in (tripo, fashn, images)]
        images.host_file("/garment.png", png(6, 6, (0, 0, 0)), "image/png")
        images.host_file("/person.png", png(4, 8, (230, 200, 180)), "image/png")
        images.host_file("/page.html", b"<html>not an image</html>", "text/html")
        yield Providers(tripo, fashn, images, settings)
    # Leave no queued step behind for a later test's worker (services pass: shared Redis broker).
    from devskyy.taskqueue import app

    app.control.purge()


class Providers:
    def __init__(self, tripo: TripoServer, fashn: FashnServer, images: ImageHost, settings: Any) -> None:
        self.tripo, self.fashn, self.images, self.settings = tripo, fashn, images, settings


def _api(role: Role = Role.OPERATOR, user=None) -> tuple[Client, dict[str, Any], Any]:
    user = user or make_user(role)
    return Client(), bearer(access_token(user)), user


def _post(client: Client, auth: dict[str, Any], path: str, body: dict[str, Any], **headers: Any):
    return client.post(path, body, "application/json", **auth, **headers)


def drive(job_id: str, timeout: float = 10.0) -> MediaJob:
    """Run the job's steps until it is final, waiting each step's countdown (capped)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        outcome = media_job_step(job_id=job_id)
        job = MediaJob.objects.get(pk=job_id)
        if job.is_final:
            return job
        time.sleep(min(outcome.next_in or 0.0, 0.1))
    raise AssertionError(f"job stayed {job.status}/{job.stage} after {timeout}s")


def _events(job_id: str) -> list[dict[str, Any]]:
    rows = FeedEvent.objects.filter(channel="3d_pipeline").order_by("seq")
    return [{**r.payload, "_seq": r.seq, "_owner": r.owner_id} for r in rows if r.payload.get("job_id") == job_id]


def _nothing_written() -> dict[str, int]:
    return {
        "jobs": MediaJob.objects.count(),
        "files": MediaFile.objects.count(),
        "events": FeedEvent.objects.count(),
        "ledger": SpendLedgerEntry.objects.count(),
    }


# --- success paths ------------------------------------------------------------------------------------
@pytest.mark.django_db(transaction=True)
def test_a_text_job_runs_to_success_stores_the_model_and_serves_the_same_bytes(media: Providers) -> None:
    product = Product.objects.create(sku="BR-HOO-1", name="Black Rose Hoodie", price="95.00", category="hoodies")
    client, auth, user = _api()
    response = _post(
        client, auth, TEXT, {"prompt": "an oversized black hoodie", "product_id": product.pk, "options": {"pbr": True}}
    )
    assert response.status_code == 202, response.content
    body = response.json()
    assert (body["status"], body["kind"], body["provider"]) == ("queued", "text_to_model", "tripo")
    assert response["Location"] == f"/api/v1/media/3d/jobs/{body['id']}"

    job = drive(body["id"])
    assert job.status == MediaStatus.SUCCEEDED, (job.error_code, job.error)
    detail = client.get(f"/api/v1/media/3d/jobs/{job.pk}", **auth).json()
    assert (detail["status"], detail["progress"], detail["cost_usd"]) == ("succeeded", 100, "0.200000")
    files = {f["role"]: f for f in detail["files"]}
    assert set(files) == {"model", "preview"}
    download = client.get(files["model"]["download_url"], **auth)
    assert download.status_code == 200
    assert download.getvalue() == minimal_glb()
    assert download["Content-Type"] == "model/gltf-binary"
    assert 'filename="model.glb"' in download["Content-Disposition"]
    preview = client.get(files["preview"]["download_url"], **auth)
    assert preview.getvalue() == png(4, 4, (20, 20, 20))

    sent = next(r for r in media.tripo.requests if r["op"] == "create")
    assert sent["body"] == {"type": "text_to_model", "prompt": "an oversized black hoodie", "pbr": True}

    events = _events(str(job.pk))
    assert [(e["status"], e["stage"]) for e in events][:2] == [("queued", "queued"), ("submitted", "generating")]
    assert events[-1]["status"] == "succeeded"
    assert events[-1]["files"][0]["download_url"] == files["model"]["download_url"]
    assert ("running", "generating") in [(e["status"], e["stage"]) for e in events]
    assert [e["progress"] for e in events] == sorted(e["progress"] for e in events)
    assert {e["_owner"] for e in events} == {user.pk}
    assert [e["_seq"] for e in events] == sorted(e["_seq"] for e in events)

    ledger = SpendLedgerEntry.objects.get()
    assert (ledger.kind, ledger.provider, ledger.amount, ledger.source) == (
        "3d",
        "tripo",
        Decimal("0.2"),
        "price_table",
    )
    assert ledger.details["media_job_id"] == str(job.pk)
    assert ledger.product_refs == [str(product.pk)]
    assert job.ledger_entry_id == ledger.pk
    platform = DailyBudget.objects.get(agent_slug="platform")
    assert (platform.spent_usd, platform.reserved_usd) == (Decimal("0.2"), Decimal("0"))


@pytest.mark.django_db(transaction=True)
def test_an_image_job_uses_the_products_image_and_sends_tripo_bytes_not_our_url(media: Providers) -> None:
    garment_url = f"{media.images.url}/garment.png"
    product = Product.objects.create(sku="SIG-TEE-2", name="Tee", price="30", category="tees", images=[garment_url])
    client, auth, _ = _api()
    response = _post(client, auth, IMAGE, {"product_id": product.pk})
    assert response.status_code == 202, response.content
    job = drive(response.json()["id"])
    assert job.status == MediaStatus.SUCCEEDED, job.error
    assert job.inputs["image_url"] == garment_url
    upload = next(r for r in media.tripo.requests if r["op"] == "upload")
    assert list(media.tripo.uploads.values()) == [png(6, 6, (0, 0, 0))]
    assert upload["size"] == len(png(6, 6, (0, 0, 0)))
    create = next(r for r in media.tripo.requests if r["op"] == "create")
    assert create["body"]["type"] == "image_to_model"
    assert create["body"]["file"]["type"] == "png"
    assert media.images.url not in str(create["body"])
    assert [e["stage"] for e in _events(str(job.pk))][:3] == ["queued", "fetching_inputs", "generating"]


@pytest.mark.django_db(transaction=True)
def test_a_tryon_job_sends_base64_images_and_stores_the_result(media: Providers) -> None:
    client, auth, _ = _api()
    response = _post(
        client,
        auth,
        TRYON,
        {
            "model_image_url": f"{media.images.url}/person.png",
            "garment_image_url": f"{media.images.url}/garment.png",
            "category": "tops",
        },
    )
    assert response.status_code == 202, response.content
    job = drive(response.json()["id"])
    assert job.status == MediaStatus.SUCCEEDED, job.error
    sent = next(r for r in media.fashn.requests if r["op"] == "create")["body"]
    assert sent["model_name"] == "tryon-v1.6"
    assert sent["inputs"]["category"] == "tops"
    assert sent["inputs"]["model_image"].startswith("data:image/png;base64,")
    detail = client.get(f"/api/v1/media/tryon/{job.pk}", **auth).json()
    [image] = detail["files"]
    assert image["role"] == "image"
    got = client.get(image["download_url"], **auth)
    assert got.getvalue() == png(3, 5, (10, 120, 200))
    ledger = SpendLedgerEntry.objects.get()
    assert (ledger.kind, ledger.amount, ledger.model) == ("tryon", Decimal("0.075"), "tryon-v1.6")
    # A try-on job is not a 3D job.
    assert client.get(f"/api/v1/media/3d/jobs/{job.pk}", **auth).status_code == 404


# --- refusals before anything is written --------------------------------------------------------------------
@pytest.mark.django_db
@pytest.mark.parametrize(
    "url",
    [
        "http://169.254.169.254/latest/meta-data/",
        "http://localhost/x.png",
        "http://127.0.0.1:9/x.png",
        "http://10.0.0.7/x.png",
        "http://[::ffff:127.0.0.1]/x.png",
    ],
)
def test_internal_image_urls_are_refused_with_the_reason_and_nothing_is_written(media: Providers, url: str) -> None:
    client, auth, _ = _api()
    before = _nothing_written()
    blocked = security_events("ssrf_blocked")
    for path, body in (
        (IMAGE, {"image_url": url}),
        (TRYON, {"model_image_url": url, "garment_image_url": f"{media.images.url}/garment.png"}),
        (TRYON, {"model_image_url": f"{media.images.url}/person.png", "garment_image_url": url}),
    ):
        response = _post(client, auth, path, body)
        assert response.status_code == 400, response.content
        error = response.json()["error"]
        assert error["code"] == "url_not_allowed"
        assert "address" in error["details"]["reason"]
    assert _nothing_written() == before
    assert media.tripo.requests == []
    assert media.fashn.requests == []
    assert security_events("ssrf_blocked") == blocked + 3


@pytest.mark.django_db
def test_switched_off_is_503_feature_disabled_and_nothing_is_written(media: Providers) -> None:
    media.settings.ENABLE_3D_GENERATION = False
    client, auth, _ = _api()
    before = _nothing_written()
    for path, body in ((TEXT, {"prompt": "x"}), (IMAGE, {"image_url": "https://a.test/x.png"}), (TRYON, {})):
        response = _post(client, auth, path, body)
        assert response.status_code == 503
        assert response.json()["error"]["code"] == "feature_disabled"
        assert "ENABLE_3D_GENERATION" in response.json()["error"]["message"]
    assert _nothing_written() == before


@pytest.mark.django_db
def test_a_missing_key_is_503_naming_the_variable_and_nothing_is_written(media: Providers) -> None:
    media.settings.TRIPO_API_KEY = ""
    media.settings.FASHN_API_KEY = ""
    client, auth, _ = _api()
    before = _nothing_written()
    text = _post(client, auth, TEXT, {"prompt": "a hat"})
    tryon = _post(client, auth, TRYON, {"model_image_url": "https://a.test/m.png", "product_id": 1})
    assert (text.status_code, text.json()["error"]["code"]) == (503, "provider_not_configured")
    assert text.json()["error"]["details"]["setting"] == "TRIPO_API_KEY"
    assert "TRIPO_API_KEY" in text.json()["error"]["message"]
    assert tryon.status_code == 503
    assert tryon.json()["error"]["details"]["setting"] == "FASHN_API_KEY"
    assert _nothing_written() == before


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("path", "body", "code"),
    [
        (TEXT, {"prompt": ""}, "validation_error"),
        (TEXT, {"prompt": "   "}, "validation_error"),
        (TEXT, {"prompt": "x" * 1025}, "validation_error"),
        (TEXT, {"prompt": "x", "options": {"file": "http://10.0.0.1/"}}, "validation_error"),
        (TEXT, {"prompt": "x", "options": {"face_limit": 5}}, "validation_error"),
        (TEXT, {"prompt": "x", "product_id": 999999}, "unknown_product"),
        (TEXT, {"prompt": "x", "product_id": 2**70}, "validation_error"),
        (IMAGE, {}, "validation_error"),
        (IMAGE, {"image_url": "ftp://files.test/x.png"}, "url_not_allowed"),
        (
            TRYON,
            {
                "model_image_url": "https://a.test/m.png",
                "garment_image_url": "https://a.test/g.png",
                "category": "hats",
            },
            "validation_error",
        ),
        (TRYON, {"model_image_url": "https://a.test/m.png"}, "validation_error"),
        (TRYON, {"model_image_url": "https://a.test/m.png", "product_id": 999999}, "unknown_product"),
    ],
)
def test_bad_input_is_400_and_nothing_is_written(media: Providers, path: str, body: dict[str, Any], code: str) -> None:
    client, auth, _ = _api()
    before = _nothing_written()
    response = _post(client, auth, path, body)
    assert response.status_code == 400, response.content
    assert response.json()["error"]["code"] == code
    assert _nothing_written() == before


@pytest.mark.django_db
def test_a_product_without_an_image_cannot_be_modelled_from_its_image(media: Providers) -> None:
    product = Product.objects.create(sku="NO-IMG", name="Plain", price="1", category="c", images=[])
    client, auth, _ = _api()
    response = _post(client, auth, IMAGE, {"product_id": product.pk})
    assert (response.status_code, response.json()["error"]["code"]) == (400, "product_has_no_image")
    assert MediaJob.objects.count() == 0


@pytest.mark.django_db
def test_readers_cannot_start_jobs(media: Providers) -> None:
    client, auth, _ = _api(Role.READ_ONLY)
    assert _post(client, auth, TEXT, {"prompt": "x"}).status_code == 403
    assert MediaJob.objects.count() == 0


# --- ownership and idempotency ------------------------------------------------------------------------------
@pytest.mark.django_db(transaction=True)
def test_other_users_jobs_are_404_everywhere_and_lists_are_scoped(media: Providers) -> None:
    owner_client, owner_auth, _ = _api()
    job_id = _post(owner_client, owner_auth, TEXT, {"prompt": "a cap"}).json()["id"]
    job = drive(job_id)
    file_id = job.files.get(role="model").pk
    other_client, other_auth, _ = _api(Role.OPERATOR)
    for method, path in (
        ("get", f"/api/v1/media/3d/jobs/{job_id}"),
        ("get", f"/api/v1/media/jobs/{job_id}/files/{file_id}"),
        ("post", f"/api/v1/media/jobs/{job_id}/cancel"),
    ):
        response = getattr(other_client, method)(path, **other_auth)
        assert response.status_code == 404, (path, response.status_code)
        assert response.json()["error"]["code"] == "media_job_not_found"
    assert other_client.get("/api/v1/media/3d/jobs", **other_auth).json()["results"] == []
    key = make_api_key(Role.API_USER)
    assert other_client.get(f"/api/v1/media/3d/jobs/{job_id}", HTTP_X_API_KEY=key.key).status_code == 404
    mine = owner_client.get("/api/v1/media/3d/jobs", **owner_auth).json()["results"]
    assert [j["id"] for j in mine] == [job_id]
    staff = make_user(Role.ADMIN)
    staff.is_staff = True
    staff.save()
    staff_client, staff_auth, _ = _api(user=staff)
    assert staff_client.get(f"/api/v1/media/3d/jobs/{job_id}", **staff_auth).status_code == 200
    assert other_client.get(f"/api/v1/media/jobs/{job_id}/files/999999", **owner_auth).status_code == 404


@pytest.mark.django_db
def test_an_api_key_sees_its_own_jobs_only(media: Providers, django_capture_on_commit_callbacks) -> None:
    first, second = make_api_key(Role.API_USER), make_api_key(Role.API_USER)
    client = Client()
    with django_capture_on_commit_callbacks(execute=False):
        response = client.post(TEXT, {"prompt": "x"}, "application/json", HTTP_X_API_KEY=first.key)
    assert response.status_code == 202
    job_id = response.json()["id"]
    assert client.get(f"/api/v1/media/3d/jobs/{job_id}", HTTP_X_API_KEY=first.key).status_code == 200
    assert client.get(f"/api/v1/media/3d/jobs/{job_id}", HTTP_X_API_KEY=second.key).status_code == 404


@pytest.mark.django_db
def test_the_same_idempotency_key_replays_and_another_body_conflicts(
    media: Providers, django_capture_on_commit_callbacks
) -> None:
    client, auth, _ = _api()
    with django_capture_on_commit_callbacks(execute=False):
        first = _post(client, auth, TEXT, {"prompt": "a scarf"}, HTTP_IDEMPOTENCY_KEY="k-1")
        again = _post(client, auth, TEXT, {"prompt": "a scarf"}, HTTP_IDEMPOTENCY_KEY="k-1")
        other = _post(client, auth, TEXT, {"prompt": "a glove"}, HTTP_IDEMPOTENCY_KEY="k-1")
    assert (first.status_code, again.status_code, other.status_code) == (202, 200, 409)
    assert again["Idempotent-Replayed"] == "true"
    assert again.json()["id"] == first.json()["id"]
    assert other.json()["error"]["code"] == "idempotency_key_reused"
    assert MediaJob.objects.count() == 1


# --- provider failures -------------------------------------------------------------------------------------
@pytest.mark.django_db(transaction=True)
def test_transient_errors_are_retried_and_the_job_still_succeeds(media: Providers) -> None:
    media.tripo.faults["create"] = [(429, "0", None), (500, None, None)]
    media.tripo.faults["status"] = [(500, None, None)] * 5  # more than one poll's attempts
    media.tripo.faults["file"] = [(503, None, None)]
    client, auth, _ = _api()
    job = drive(_post(client, auth, TEXT, {"prompt": "a belt"}).json()["id"])
    assert job.status == MediaStatus.SUCCEEDED, (job.error_code, job.error)
    assert [r["op"] for r in media.tripo.requests].count("create") == 3
    assert len(media.tripo.tasks) == 1  # submitted once: never paid twice
    assert SpendLedgerEntry.objects.get().amount == Decimal("0.2")


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize(
    ("fault", "code", "says"),
    [
        ((401, None, None), "provider_auth_failed", "TRIPO_API_KEY"),
        ((403, None, None), "provider_out_of_credit", "credit"),
    ],
)
def test_permanent_provider_errors_fail_the_job_with_a_clear_message(
    media: Providers, fault: tuple[int, None, None], code: str, says: str
) -> None:
    media.tripo.faults["create"] = [fault]
    client, auth, _ = _api()
    job = drive(_post(client, auth, TEXT, {"prompt": "a bag"}).json()["id"])
    assert (job.status, job.error_code) == (MediaStatus.FAILED, code)
    assert says in job.error
    assert [r["op"] for r in media.tripo.requests] == ["create"]
    ledger = SpendLedgerEntry.objects.get()
    assert (ledger.amount, ledger.outcome) == (Decimal("0"), "error")
    assert DailyBudget.objects.get(agent_slug="platform").reserved_usd == Decimal("0")
    last = _events(str(job.pk))[-1]
    assert (last["status"], last["error_code"]) == ("failed", code)


@pytest.mark.django_db(transaction=True)
def test_a_task_the_provider_fails_fails_the_job_and_costs_nothing(media: Providers) -> None:
    media.tripo.script = ["queued", "running:20", "failed"]
    media.fashn.script = ["processing", "failed"]
    client, auth, _ = _api()
    tripo_job = drive(_post(client, auth, TEXT, {"prompt": "a ring"}).json()["id"])
    tryon_id = _post(
        client,
        auth,
        TRYON,
        {"model_image_url": f"{media.images.url}/person.png", "garment_image_url": f"{media.images.url}/garment.png"},
    ).json()["id"]
    tryon_job = drive(tryon_id)
    assert (tripo_job.status, tripo_job.error_code) == (MediaStatus.FAILED, "provider_task_failed")
    assert (tryon_job.status, tryon_job.error_code) == (MediaStatus.FAILED, "provider_task_failed")
    assert "ImageLoadError" in tryon_job.error
    assert set(SpendLedgerEntry.objects.values_list("amount", flat=True)) == {Decimal("0")}


@pytest.mark.django_db(transaction=True)
def test_a_task_that_never_finishes_hits_our_deadline(media: Providers) -> None:
    media.settings.MEDIA_JOB_DEADLINE_SECONDS = 1
    media.tripo.script = ["running:10"]
    client, auth, _ = _api()
    started = time.monotonic()
    job = drive(_post(client, auth, TEXT, {"prompt": "a sock"}).json()["id"])
    assert (job.status, job.error_code) == (MediaStatus.FAILED, "deadline_exceeded")
    assert "running" in job.error
    assert time.monotonic() - started < 5
    assert SpendLedgerEntry.objects.get().amount == Decimal("0.2")  # submitted: the provider bills it


@pytest.mark.django_db(transaction=True)
def test_a_model_that_is_not_a_gltf_binary_is_rejected(media: Providers) -> None:
    media.tripo.model_file = ("text/html", b"<html>login</html>")
    client, auth, _ = _api()
    job = drive(_post(client, auth, TEXT, {"prompt": "a coat"}).json()["id"])
    assert (job.status, job.error_code) == (MediaStatus.FAILED, "output_rejected")
    assert MediaFile.objects.count() == 0


@pytest.mark.django_db(transaction=True)
def test_a_source_url_that_is_not_an_image_fails_the_job_before_paying(media: Providers) -> None:
    client, auth, _ = _api()
    job = drive(_post(client, auth, IMAGE, {"image_url": f"{media.images.url}/page.html"}).json()["id"])
    assert (job.status, job.error_code) == (MediaStatus.FAILED, "media_content_rejected")
    assert media.tripo.requests == []
    assert SpendLedgerEntry.objects.count() == 0
    assert DailyBudget.objects.get(agent_slug="platform").reserved_usd == Decimal("0")


@pytest.mark.django_db(transaction=True)
def test_cancel_stops_polling_charges_the_submitted_work_and_a_second_cancel_conflicts(media: Providers) -> None:
    media.tripo.script = ["running:10"]
    client, auth, _ = _api()
    job_id = _post(client, auth, TEXT, {"prompt": "a tie"}).json()["id"]
    media_job_step(job_id=job_id)  # submit
    media_job_step(job_id=job_id)  # poll: running
    assert MediaJob.objects.get(pk=job_id).status == MediaStatus.RUNNING
    response = client.post(f"/api/v1/media/jobs/{job_id}/cancel", **auth)
    assert response.status_code == 202, response.content
    assert response.json()["status"] == "cancelled"
    polls = len(media.tripo.requests)
    assert media_job_step(job_id=job_id).status == "skipped"
    assert len(media.tripo.requests) == polls
    job = MediaJob.objects.get(pk=job_id)
    assert job.status == MediaStatus.CANCELLED
    ledger = SpendLedgerEntry.objects.get()
    assert (ledger.amount, ledger.outcome) == (Decimal("0.2"), "cancelled")
    again = client.post(f"/api/v1/media/jobs/{job_id}/cancel", **auth)
    assert (again.status_code, again.json()["error"]["code"]) == (409, "media_job_not_cancellable")


@pytest.mark.django_db
def test_a_job_is_audited_at_creation(media: Providers, django_capture_on_commit_callbacks) -> None:
    client, auth, user = _api()
    with django_capture_on_commit_callbacks(execute=False):
        job_id = _post(client, auth, TEXT, {"prompt": "a hat"}).json()["id"]
    row = AuditLog.objects.get(action="media.job_created")
    assert (row.target_id, row.details["kind"]) == (job_id, "text_to_model")


def test_base64_of_png_round_trips() -> None:  # guards the test server's own check
    assert base64.b64decode(base64.b64encode(png())) == png()
