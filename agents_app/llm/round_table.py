"""Round Table: one prompt to every enabled provider in parallel, scored, judged.

Flow: budgets are reserved and breakers asked on the caller's thread; the provider
calls run in a thread pool (network only, each with the per-call timeout); each answer
is settled and written to the ledger on the caller's thread as it arrives. Answers are
scored with the rubric below; a judge model (a real call through the gateway, strict
JSON answer) picks between the top two. If the judge fails or answers out of format,
the best score wins and ``judge_error`` says why. Everything is persisted
(``RoundTable``, ``RoundTableEntry``).

Rubric (0-100, deterministic, each part stored in ``score_breakdown``):
* relevance, 0-40: share of the prompt's keywords (words of 4+ letters, stop words
  removed, matched on their first 5 letters) that the answer uses;
* length, 0-25: full marks between 30 words and ~0.75 words per allowed output token,
  scaled down proportionally outside that band; empty answers score 0;
* structure, 0-20: 8 for paragraphs or list items, 6 for ending on a finished
  sentence, 6 for not being cut off by the token limit;
* latency, 0-10: 10 x fastest latency / this latency;
* cost, 0-5: 5 x cheapest cost / this cost (free answers get 5).

Stage events, ``on_event(stage, payload)``, all with ``round_table_id``:
``started`` {providers}; ``entry`` {provider, model, status, latency_ms, cost_usd,
error}; ``scored`` {scores: [{provider, score, rank}]}; ``judging`` {judge_provider,
candidates}; ``verdict`` {winner_provider, verdict_method, reason, judge_error}.
"""

from __future__ import annotations

import json
import logging
import re
from collections.abc import Callable, Sequence
from concurrent.futures import Future, ThreadPoolExecutor, as_completed
from concurrent.futures import TimeoutError as FuturesTimeout
from dataclasses import dataclass, field
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

from django.conf import settings

from agents_app.llm.budget import budget_release
from agents_app.llm.exceptions import BudgetExceeded, NoProviderConfigured, ProviderError
from agents_app.llm.gateway import (
    PreparedCall,
    Skipped,
    cached_answer,
    complete,
    execute,
    finish,
    prepare,
    product_versions,
)
from agents_app.llm.providers import load_sdks
from agents_app.llm.routing import enabled_providers
from agents_app.llm.services import round_table_finish, round_table_start
from agents_app.llm.types import ChatMessage, Completion, CompletionRequest
from devskyy.core.errors import DomainError

logger = logging.getLogger(__name__)

EventHook = Callable[[str, dict[str, Any]], None]

_WORD = re.compile(r"[a-z0-9][a-z0-9'-]*")
_LIST_ITEM = re.compile(r"^\s*(?:[-*\u2022]|\d+[.)])\s+", re.MULTILINE)
_STOP_WORDS = frozenset(
    [
        "about",
        "above",
        "after",
        "again",
        "against",
        "also",
        "because",
        "been",
        "before",
        "being",
        "below",
        "between",
        "both",
        "could",
        "does",
        "doing",
        "down",
        "during",
        "each",
        "from",
        "further",
        "have",
        "having",
        "here",
        "into",
        "itself",
        "just",
        "more",
        "most",
        "other",
        "over",
        "same",
        "should",
        "some",
        "such",
        "than",
        "that",
        "their",
        "theirs",
        "them",
        "then",
        "there",
        "these",
        "they",
        "this",
        "those",
        "through",
        "under",
        "until",
        "very",
        "what",
        "when",
        "where",
        "which",
        "while",
        "with",
        "would",
        "your",
        "yours",
        "please",
        "write",
        "give",
        "tell",
        "make",
        "using",
        "need",
        "want",
        "like",
    ]
)
_TRUNCATED = frozenset({"length", "max_tokens"})
_JUDGE_SYSTEM = (
    "You judge two answers to the same request for a fashion brand's team. Prefer the answer that is "
    "correct, specific, useful and follows the request. Reply with JSON only, no prose and no code fence: "
    '{"winner": "A" or "B", "reason": "<one sentence>"}'
)


@dataclass
class EntryResult:
    provider: str
    model: str
    status: str  # ok | error
    text: str = ""
    error: str = ""
    finish_reason: str = ""
    latency_ms: int | None = None
    prompt_tokens: int | None = None
    completion_tokens: int | None = None
    cost_usd: Decimal = Decimal("0")
    cached: bool = False
    score: Decimal | None = None
    breakdown: dict[str, float] = field(default_factory=dict)
    rank: int | None = None


@dataclass
class RoundTableResult:
    round_table_id: str
    entries: list[EntryResult]
    winner: EntryResult | None
    verdict_method: str
    verdict_reason: str
    judge_provider: str = ""
    judge_model: str = ""
    judge_error: str = ""
    total_cost_usd: Decimal = Decimal("0")


# ---------------------------------------------------------------------------------
# Rubric
# ---------------------------------------------------------------------------------


def keywords(text: str) -> set[str]:
    return {w[:5] for w in _WORD.findall(text.lower()) if len(w) >= 4 and w not in _STOP_WORDS}


def score_answer(
    *, prompt: str, entry: EntryResult, max_tokens: int, fastest_ms: int, cheapest: Decimal
) -> dict[str, float]:
    """The rubric of the module docstring for one answer; returns its parts."""
    text = entry.text.strip()
    words = _WORD.findall(text.lower())
    wanted = keywords(prompt)
    if not text:
        relevance = 0.0
    elif wanted:
        relevance = 40.0 * len(wanted & {w[:5] for w in words}) / len(wanted)
    else:
        relevance = 20.0
    low, high = 30, max(60, int(max_tokens * 0.75))
    n = len(words)
    if n == 0:
        length = 0.0
    elif n < low:
        length = 25.0 * n / low
    elif n > high:
        length = 25.0 * high / n
    else:
        length = 25.0
    structure = 0.0
    if text:
        paragraphs = [p for p in re.split(r"\n\s*\n", text) if p.strip()]
        if len(paragraphs) >= 2 or len(_LIST_ITEM.findall(text)) >= 2:
            structure += 8
        if text[-1] in ".!?)\"'`*":
            structure += 6
        if entry.finish_reason not in _TRUNCATED:
            structure += 6
    latency = 10.0 * fastest_ms / entry.latency_ms if entry.latency_ms else 10.0
    cost = 5.0 if entry.cost_usd <= 0 else 5.0 * float(cheapest / entry.cost_usd)
    parts = {"relevance": relevance, "length": length, "structure": structure, "latency": latency, "cost": cost}
    return {k: round(v, 2) for k, v in parts.items()}


def score_entries(prompt: str, entries: Sequence[EntryResult], max_tokens: int) -> list[EntryResult]:
    """Score answered entries in place; returns them best first (ties: provider name)."""
    answered = [e for e in entries if e.status == "ok"]
    if not answered:
        return []
    fastest = min((e.latency_ms or 0) for e in answered) or 1
    cheapest = min(e.cost_usd for e in answered)
    for entry in answered:
        entry.breakdown = score_answer(
            prompt=prompt, entry=entry, max_tokens=max_tokens, fastest_ms=fastest, cheapest=cheapest
        )
        entry.score = Decimal(str(sum(entry.breakdown.values()))).quantize(Decimal("0.01"), rounding=ROUND_HALF_UP)
    ranked = sorted(answered, key=lambda e: (-(e.score or 0), e.provider))
    for rank, entry in enumerate(ranked, start=1):
        entry.rank = rank
    return ranked


# ---------------------------------------------------------------------------------
# Judge
# ---------------------------------------------------------------------------------


def parse_verdict(text: str) -> tuple[str, str]:
    """``("A"|"B", reason)`` from the judge's JSON; ValueError if it is not that."""
    body = text.strip()
    fence = re.fullmatch(r"```(?:json)?\s*(.*?)\s*```", body, re.DOTALL)
    if fence:
        body = fence.group(1)
    data = json.loads(body)
    if not isinstance(data, dict) or data.get("winner") not in ("A", "B"):
        raise ValueError('expected {"winner": "A" | "B", "reason": ...}')
    reason = data.get("reason", "")
    return data["winner"], reason if isinstance(reason, str) else json.dumps(reason)


def _judge(
    *, prompt: str, first: EntryResult, second: EntryResult, agent_slug: str, task_id: str, timeout: float | None
) -> tuple[EntryResult, str, Completion]:
    request = CompletionRequest(
        messages=[
            ChatMessage(role="system", content=_JUDGE_SYSTEM),
            ChatMessage(
                role="user",
                content=f"Request:\n{prompt}\n\nAnswer A:\n{first.text}\n\nAnswer B:\n{second.text}",
            ),
        ],
        provider=settings.LLM_JUDGE_PROVIDER or None,
        model=(settings.LLM_JUDGE_MODEL or None) if settings.LLM_JUDGE_PROVIDER else None,
        temperature=0,
        max_tokens=300,
        timeout=timeout,
        use_cache=False,
        agent_slug=agent_slug,
        task_id=task_id,
        purpose="round_table_judge",
    )
    completion = complete(request)
    try:
        winner, reason = parse_verdict(completion.text)
    except ValueError as exc:  # json.JSONDecodeError is a ValueError
        raise JudgeFailed(f"judge {completion.provider} answered out of format ({exc})", completion) from exc
    return (first if winner == "A" else second), reason, completion


class JudgeFailed(Exception):  # noqa: N818 - internal signal, not an API error
    def __init__(self, message: str, completion: Completion | None = None) -> None:
        super().__init__(message)
        self.completion = completion


# ---------------------------------------------------------------------------------
# The run
# ---------------------------------------------------------------------------------


def _entry_from(completion: Completion) -> EntryResult:
    reported = completion.usage.reported
    return EntryResult(
        provider=completion.provider,
        model=completion.model,
        status="ok",
        text=completion.text,
        finish_reason=completion.finish_reason,
        latency_ms=completion.latency_ms,
        prompt_tokens=completion.usage.prompt_tokens if reported else None,
        completion_tokens=completion.usage.completion_tokens if reported else None,
        cost_usd=completion.cost_usd,
        cached=completion.cached,
    )


def run_round_table(
    *,
    prompt: str,
    system_prompt: str = "",
    agent_slug: str = "",
    task_id: str = "",
    owner_id: int | None = None,
    providers: Sequence[str] | None = None,
    max_tokens: int | None = None,
    temperature: float | None = None,
    timeout: float | None = None,
    product_ids: Sequence[int | str] = (),
    use_cache: bool = False,
    on_event: EventHook | None = None,
) -> RoundTableResult:
    """Run a Round Table over every enabled provider (or those named in ``providers``).

    Raises NoProviderConfigured when none is enabled. Provider failures, budget
    refusals and open circuits become error entries, not exceptions.
    """
    configs = [c for c in enabled_providers() if providers is None or c.name in providers]
    if not configs:
        raise NoProviderConfigured()
    timeout = timeout or settings.LLM_TIMEOUT_SECONDS
    max_tokens = max_tokens or settings.LLM_DEFAULT_MAX_TOKENS
    # The SDKs load on a process's first use: never inside the parallel
    # calls, where one thread's import would hold the GIL during the others' timed calls.
    load_sdks()
    table = round_table_start(
        prompt=prompt, system_prompt=system_prompt, agent_slug=agent_slug, task_id=task_id, owner_id=owner_id
    )
    table_id = str(table.id)

    def emit(stage: str, **payload: Any) -> None:
        if on_event is None:
            return
        try:
            on_event(stage, {"round_table_id": table_id, **payload})
        except Exception:  # a broken listener must not break the Round Table
            logger.exception("Round Table event hook failed at stage %s", stage)

    emit("started", providers=[c.name for c in configs])
    messages = ([ChatMessage(role="system", content=system_prompt)] if system_prompt else []) + [
        ChatMessage(role="user", content=prompt)
    ]
    entries: list[EntryResult] = []

    def add(entry: EntryResult) -> None:
        entries.append(entry)
        emit(
            "entry",
            provider=entry.provider,
            model=entry.model,
            status=entry.status,
            latency_ms=entry.latency_ms,
            cost_usd=str(entry.cost_usd),
            error=entry.error,
        )

    ready: list[PreparedCall] = []
    for config in configs:
        request = CompletionRequest(
            messages=messages,
            provider=config.name,
            allow_fallback=False,
            max_tokens=max_tokens,
            temperature=temperature,
            timeout=timeout,
            use_cache=use_cache,
            agent_slug=agent_slug,
            task_id=task_id,
            product_ids=list(product_ids),
            purpose="round_table",
        )
        hit, key = cached_answer(request, config, product_versions(request))
        if hit is not None:
            add(_entry_from(hit))
            continue
        try:
            prepared = prepare(request, config, key)
        except BudgetExceeded as exc:
            add(EntryResult(config.name, config.default_model, "error", error=exc.message))
            continue
        if isinstance(prepared, Skipped):
            add(EntryResult(config.name, prepared.attempt.model, "error", error=prepared.attempt.detail))
            continue
        ready.append(prepared)

    if ready:
        pool = ThreadPoolExecutor(max_workers=len(ready), thread_name_prefix="round-table")
        futures: dict[Future[Completion | ProviderError], PreparedCall] = {
            pool.submit(execute, prepared): prepared for prepared in ready
        }
        pending = set(futures)
        try:
            # The SDK enforces each call's timeout; the grace covers connection set-up.
            for future in as_completed(futures, timeout=timeout + settings.LLM_CONNECT_TIMEOUT_SECONDS + 1):
                pending.discard(future)
                prepared = futures[future]
                result = finish(prepared, future.result())
                if isinstance(result, ProviderError):
                    add(EntryResult(prepared.config.name, prepared.call.model, "error", error=result.message))
                else:
                    add(_entry_from(result))
        except FuturesTimeout:
            for future in pending:
                prepared = futures[future]
                budget_release(reservation=prepared.reservation)
                add(EntryResult(prepared.config.name, prepared.call.model, "error", error="no answer in time"))
        finally:
            pool.shutdown(wait=False, cancel_futures=True)

    ranked = score_entries(prompt, entries, max_tokens)
    emit("scored", scores=[{"provider": e.provider, "score": str(e.score), "rank": e.rank} for e in ranked])

    winner: EntryResult | None = None
    method, reason, judge_error, judge_provider, judge_model = "", "", "", "", ""
    judge_cost = Decimal("0")
    if len(ranked) >= 2:
        emit("judging", judge_provider=settings.LLM_JUDGE_PROVIDER, candidates=[e.provider for e in ranked[:2]])
        try:
            winner, reason, verdict = _judge(
                prompt=prompt,
                first=ranked[0],
                second=ranked[1],
                agent_slug=agent_slug,
                task_id=task_id,
                timeout=timeout,
            )
            method, judge_provider, judge_model = "judge", verdict.provider, verdict.model
            judge_cost = verdict.cost_usd
        except (JudgeFailed, DomainError) as exc:
            # DomainError covers every gateway refusal: providers failing, budget, none configured.
            failed = exc.completion if isinstance(exc, JudgeFailed) else None
            judge_error = exc.message if isinstance(exc, DomainError) else str(exc)
            judge_provider = failed.provider if failed else ""
            judge_model = failed.model if failed else ""
            judge_cost = failed.cost_usd if failed else Decimal("0")
            winner, method = ranked[0], "top_score_fallback"
            reason = f"Judge failed ({judge_error}); highest rubric score wins."
    elif ranked:
        winner, method, reason = ranked[0], "top_score", "Only one provider answered."

    total = sum((e.cost_usd for e in entries), judge_cost)
    round_table_finish(
        round_table=table,
        entries=entries,
        winner_provider=winner.provider if winner else None,
        verdict_method=method,
        verdict_reason=reason,
        judge_provider=judge_provider,
        judge_model=judge_model,
        judge_error=judge_error,
        total_cost_usd=total,
    )
    emit(
        "verdict",
        winner_provider=winner.provider if winner else None,
        verdict_method=method,
        reason=reason,
        judge_error=judge_error,
    )
    return RoundTableResult(
        round_table_id=table_id,
        entries=entries,
        winner=winner,
        verdict_method=method,
        verdict_reason=reason,
        judge_provider=judge_provider,
        judge_model=judge_model,
        judge_error=judge_error,
        total_cost_usd=total,
    )
