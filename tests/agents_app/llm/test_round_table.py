"""Round Table: three providers in parallel, a rubric, a judge, persisted results."""

from __future__ import annotations

import json
import threading
import time
from decimal import Decimal

import pytest

from agents_app.llm.exceptions import NoProviderConfigured
from agents_app.llm.models import RoundTable, SpendLedgerEntry
from agents_app.llm.providers import load_sdks
from agents_app.llm.round_table import EntryResult, parse_verdict, run_round_table, score_answer
from tests.support.llm_servers import Reply, anthropic_text, openai_error, openai_text

pytestmark = pytest.mark.django_db

PROMPT = "Write a product description for the Noir heavyweight hoodie: organic cotton, oversized fit, embroidered logo."
GOOD = (
    "The Noir hoodie is cut from heavyweight organic cotton for an oversized fit that keeps its shape.\n\n"
    "- Embroidered logo at the chest\n- Dropped shoulders and ribbed cuffs\n- Made to be worn for years."
)
ALSO_GOOD = (
    "Meet Noir: a heavyweight hoodie in organic cotton with an oversized fit.\n\n"
    "An embroidered logo finishes a piece built for everyday wear."
)
WEAK = "I am not sure"


@pytest.fixture
def three(servers, providers, settings):
    oa, an, gq = servers("openai"), servers("anthropic"), servers("openai", prefix="/openai/v1")
    oa.queue(openai_text(GOOD, prompt_tokens=60, completion_tokens=70))
    an.queue(anthropic_text(ALSO_GOOD, input_tokens=60, output_tokens=40))
    gq.queue(openai_text(WEAK, prompt_tokens=60, completion_tokens=4))
    providers(openai=oa, anthropic=an, groq=gq)
    settings.LLM_JUDGE_PROVIDER = "anthropic"
    return oa, an, gq


def test_three_providers_are_scored_and_the_judge_picks_between_the_top_two(three) -> None:
    oa, an, gq = three
    an.queue(anthropic_text(json.dumps({"winner": "B", "reason": "B is more specific."})))
    events: list[tuple[str, dict]] = []

    result = run_round_table(
        prompt=PROMPT, agent_slug="creative-001", task_id="t-9", on_event=lambda s, p: events.append((s, p))
    )

    by_provider = {e.provider: e for e in result.entries}
    assert set(by_provider) == {"openai", "anthropic", "groq"}
    assert by_provider["groq"].rank == 3  # the weak answer scores last
    second = next(e for e in result.entries if e.rank == 2)
    assert result.verdict_method == "judge"
    assert result.winner is second  # the judge said "B", the second-ranked answer
    assert result.verdict_reason == "B is more specific."
    assert result.judge_provider == "anthropic"
    judge_prompt = an.requests[1].json["messages"][0]["content"]
    first = next(e for e in result.entries if e.rank == 1)
    assert f"Answer A:\n{first.text}" in judge_prompt
    assert f"Answer B:\n{second.text}" in judge_prompt
    assert an.requests[1].json["system"].startswith("You judge two answers")

    table = RoundTable.objects.get(pk=result.round_table_id)
    assert table.status == "completed"
    assert table.winner is not None
    assert table.winner.provider == second.provider
    assert table.entries.count() == 3
    assert table.total_cost_usd == sum(r.amount for r in SpendLedgerEntry.objects.all())
    assert SpendLedgerEntry.objects.filter(purpose="round_table_judge").count() == 1
    stored = table.entries.get(provider="openai")
    assert stored.score == by_provider["openai"].score
    assert set(stored.score_breakdown) == {"relevance", "length", "structure", "latency", "cost"}
    stages = [s for s, _ in events]
    assert stages[0] == "started"
    assert stages.count("entry") == 3
    assert stages[-3:] == ["scored", "judging", "verdict"]
    assert all(p["round_table_id"] == result.round_table_id for _, p in events)


def test_a_judge_out_of_format_falls_back_to_the_top_score_and_says_so(three) -> None:
    _, an, _ = three
    an.queue(anthropic_text("I prefer the first one."))

    result = run_round_table(prompt=PROMPT)

    assert result.verdict_method == "top_score_fallback"
    assert result.winner is not None
    assert result.winner.rank == 1
    assert "out of format" in result.judge_error
    assert RoundTable.objects.get(pk=result.round_table_id).judge_error == result.judge_error


def test_a_failing_provider_becomes_an_error_entry(servers, providers, settings) -> None:
    oa, an = servers("openai"), servers("anthropic")
    oa.queue(openai_error(500, "boom"))
    an.queue(anthropic_text(ALSO_GOOD))
    providers(openai=oa, anthropic=an)

    result = run_round_table(prompt=PROMPT)

    errors = [e for e in result.entries if e.status == "error"]
    assert [(e.provider, e.error) for e in errors] == [("openai", "boom (server_error)")]
    assert result.winner is not None
    assert result.winner.provider == "anthropic"
    assert result.verdict_method == "top_score"


def test_providers_are_called_in_parallel(servers, providers) -> None:
    started: list[float] = []
    lock = threading.Lock()

    def slow(text):
        def respond(request):
            with lock:
                started.append(time.monotonic())
            return Reply(delay=0.4, body=openai_text(text).body)

        return respond

    a, b, c = servers("openai"), servers("openai", prefix="/openai/v1"), servers("openai", prefix="/compatibility/v1")
    for server in (a, b, c):
        server.responder = slow(GOOD)
    providers(openai=a, groq=b, cohere=c)
    load_sdks()  # a process's one-time SDK import (task workers: at start) is not the calls' time

    t0 = time.monotonic()
    result = run_round_table(prompt=PROMPT, providers=["openai", "groq"])
    elapsed = time.monotonic() - t0

    assert len(result.entries) == 2  # only the named providers
    assert c.request_count == 0
    assert started[1] - started[0] < 0.3  # both were in flight together (the third start is the judge)
    assert elapsed < 0.8 + 0.4  # two 0.4 s calls, plus the judge's 0.4 s call


def test_no_provider_fails_fast() -> None:
    with pytest.raises(NoProviderConfigured):
        run_round_table(prompt=PROMPT)


def test_rubric_rewards_relevance_structure_and_completeness() -> None:
    def score(text: str, finish: str = "stop", latency: int = 100, cost: str = "0.001") -> dict[str, float]:
        entry = EntryResult("p", "m", "ok", text=text, finish_reason=finish, latency_ms=latency, cost_usd=Decimal(cost))
        return score_answer(prompt=PROMPT, entry=entry, max_tokens=400, fastest_ms=100, cheapest=Decimal("0.001"))

    good, weak = score(GOOD), score(WEAK)
    assert good["relevance"] > weak["relevance"]
    assert good["structure"] == 20
    assert score(GOOD, finish="length")["structure"] == 14
    assert score("")["relevance"] == score("")["length"] == 0
    assert score(GOOD, latency=400)["latency"] == 2.5
    assert score(GOOD, cost="0.004")["cost"] == 1.25
    assert score(GOOD) == score(GOOD)  # deterministic


def test_verdicts_must_be_strict_json() -> None:
    assert parse_verdict('{"winner": "A", "reason": "clearer"}') == ("A", "clearer")
    assert parse_verdict('```json\n{"winner": "B", "reason": "r"}\n```') == ("B", "r")
    for bad in ("A", '{"winner": "C"}', "[1]", "winner: A"):
        with pytest.raises(ValueError):  # noqa: PT011 - JSONDecodeError is a ValueError too
            parse_verdict(bad)
