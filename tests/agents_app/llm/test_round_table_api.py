"""Round Table as an agent task: three fake providers and a judge, competition_update
events for every stage, and the read endpoints."""

# JSON results and optional relations are read in asserts:
# mypy: disable-error-code="index, union-attr"
from __future__ import annotations

import json
from decimal import Decimal

import pytest
from rest_framework.test import APIClient

from agents_app.llm.breaker import ProviderBreaker
from agents_app.llm.models import RoundTable, SpendLedgerEntry
from agents_app.models import AgentTask, TaskStatus
from devskyy.feed.models import FeedEvent
from tests.support.llm_servers import anthropic_text, openai_error, openai_text

pytestmark = pytest.mark.django_db
# Run in both passes: SQLite + local memory, and PostgreSQL + Redis.
BOTH = pytest.mark.parametrize("backend", ["embedded", pytest.param("services", marks=pytest.mark.services)])

PROMPT = "Write a product description for the Noir heavyweight hoodie: organic cotton, oversized fit, embroidered logo."
GOOD = (
    "The Noir hoodie is cut from heavyweight organic cotton for an oversized fit that keeps its shape.\n\n"
    "- Embroidered logo at the chest\n- Dropped shoulders and ribbed cuffs\n- Made to be worn for years."
)
ALSO_GOOD = (
    "Meet Noir: a heavyweight hoodie in organic cotton with an oversized fit.\n\n"
    "An embroidered logo finishes a piece built for everyday wear."
)


@pytest.fixture
def three(servers, providers, settings):
    oa, an, gq = servers("openai"), servers("anthropic"), servers("openai", prefix="/openai/v1")
    oa.queue(openai_text(GOOD, prompt_tokens=60, completion_tokens=70))
    an.queue(
        anthropic_text(ALSO_GOOD, input_tokens=60, output_tokens=40),
        anthropic_text(json.dumps({"winner": "A", "reason": "A is more specific."})),  # the judge
    )
    gq.queue(openai_text("I am not sure", prompt_tokens=60, completion_tokens=4))
    providers(openai=oa, anthropic=an, groq=gq)
    settings.LLM_JUDGE_PROVIDER = "anthropic"
    return oa, an, gq


def _run(api, committed, task_queue) -> AgentTask:
    with committed():
        response = api.post(
            "/api/v1/agents/creative-004/execute", {"task": PROMPT, "use_round_table": True}, format="json"
        )
    assert response.status_code == 202, response.json()
    assert response.json()["use_round_table"] is True
    task_queue.drain()
    return AgentTask.objects.get(pk=response.json()["id"])


@BOTH
def test_a_round_table_task_streams_every_stage_and_persists_the_verdict(
    backend, api, catalog, three, task_queue, committed
) -> None:
    task = _run(api, committed, task_queue)

    assert task.status == TaskStatus.COMPLETED, task.error
    table = RoundTable.objects.get(pk=task.result["round_table_id"])
    assert table.task_id == str(task.id)
    assert table.owner_id == task.requested_by_id
    assert table.verdict_method == "judge"
    assert table.winner is not None
    assert task.result["provider"] == table.winner.provider
    assert task.result["text"] == table.winner.text
    assert {e["provider"] for e in task.result["entries"]} == {"openai", "anthropic", "groq"}
    assert task.provider == table.winner.provider
    ledger = SpendLedgerEntry.objects.filter(task_id=str(task.id))
    assert ledger.count() == 4  # three entries and the judge
    assert task.cost == sum((e.amount for e in ledger), Decimal("0")).quantize(Decimal("0.000001"))
    assert table.total_cost_usd == sum(e.amount for e in ledger)

    events = [e.payload for e in FeedEvent.objects.filter(channel="round_table").order_by("seq")]
    stages = [e["stage"] for e in events]
    assert stages[0] == "started"
    assert stages.count("entry") == 3
    assert stages[-3:] == ["scored", "judging", "verdict"]
    assert all(e["round_table_id"] == str(table.id) and e["task_id"] == str(task.id) for e in events)
    assert events[0]["data"]["providers"] == ["openai", "anthropic", "groq"]
    assert events[-1]["data"]["winner_provider"] == table.winner.provider
    stored = FeedEvent.objects.filter(channel="round_table").first()
    assert stored.type == "competition_update"
    assert stored.owner_id == task.requested_by_id


@BOTH
def test_round_table_endpoints_list_detail_latest_stats_and_providers(
    backend, api, catalog, three, task_queue, committed, other_user
) -> None:
    task = _run(api, committed, task_queue)
    table_id = task.result["round_table_id"]

    listed = api.get("/api/v1/round-table").json()
    assert [t["id"] for t in listed["results"]] == [table_id]
    assert "entries" not in listed["results"][0]

    latest = api.get("/api/v1/round-table/latest").json()
    detail = api.get(f"/api/v1/round-table/{table_id}").json()
    assert latest == detail
    assert [e["rank"] for e in detail["entries"]] == [1, 2, 3]
    assert detail["entries"][2]["provider"] == "groq"  # the weak answer ranks last
    assert set(detail["entries"][0]["score_breakdown"]) == {"relevance", "length", "structure", "latency", "cost"}
    assert detail["winner"]["provider"] == detail["entries"][0]["provider"]  # the judge said "A"

    stats = api.get("/api/v1/round-table/stats").json()
    assert stats["round_tables"] == 1
    assert stats["by_status"] == {"completed": 1}
    assert stats["verdict_methods"] == {"judge": 1}
    assert stats["wins"] == {detail["winner"]["provider"]: 1}
    by_provider = {p["provider"]: p for p in stats["providers"]}
    assert set(by_provider) == {"openai", "anthropic", "groq"}
    for entry in detail["entries"]:
        row = by_provider[entry["provider"]]
        assert row["entries"] == row["answered"] == 1
        assert row["avg_score"] == float(entry["score"])
        assert row["cost_usd"] == entry["cost_usd"]
    judge_cost = SpendLedgerEntry.objects.get(purpose="round_table_judge").amount
    assert Decimal(stats["judge_cost_usd"]) == judge_cost
    assert Decimal(stats["total_cost_usd"]) == Decimal(detail["total_cost_usd"])

    providers = api.get("/api/v1/round-table/providers").json()["providers"]
    assert [p["provider"] for p in providers] == ["openai", "anthropic", "groq"]
    assert all(p["circuit"] == "closed" for p in providers)
    assert all(isinstance(p["avg_latency_ms"], float) for p in providers)  # measured by the calls above
    assert "api_key" not in json.dumps(providers)

    # Another user sees none of it.
    stranger = APIClient()
    stranger.force_authenticate(other_user)
    assert stranger.get("/api/v1/round-table").json()["results"] == []
    assert stranger.get(f"/api/v1/round-table/{table_id}").status_code == 404
    assert stranger.get("/api/v1/round-table/latest").status_code == 404
    assert stranger.get("/api/v1/round-table/stats").json()["round_tables"] == 0


def test_providers_endpoint_shows_an_open_circuit(api, servers, providers, settings) -> None:
    oa = servers("openai")
    providers(openai=oa)
    breaker = ProviderBreaker("openai")
    for _ in range(settings.LLM_BREAKER_FAILURES):
        breaker.record_failure()
    assert api.get("/api/v1/round-table/providers").json()["providers"][0]["circuit"] == "open"


def test_a_round_table_with_no_answer_fails_its_task(api, catalog, servers, providers, task_queue, committed) -> None:
    oa, gq = servers("openai"), servers("openai", prefix="/openai/v1")
    oa.queue(openai_error(400, "bad request"))
    gq.queue(openai_error(401, "bad key"))
    providers(openai=oa, groq=gq)
    task = _run(api, committed, task_queue)
    assert (task.status, task.error_code) == (TaskStatus.FAILED, "round_table_failed")
    assert "No provider answered" in task.error
    assert RoundTable.objects.get().status == "failed"
