"""Per-provider circuit breaker, shared across processes through ``state``.

closed -> open: after LLM_BREAKER_FAILURES consecutive transient failures (a success
resets the count; permanent errors do not count, they say nothing about availability).
open -> half-open: after LLM_BREAKER_COOLDOWN_SECONDS one caller (in any process) wins
the probe; everyone else keeps skipping the provider. The probe's success closes the
circuit; its failure opens it for another cool-down. A probe that never reports back
(killed worker) frees itself when its claim expires.
"""

from __future__ import annotations

import time

from django.conf import settings

from agents_app.llm.state import SharedState, shared_state

CLOSED = "closed"
OPEN = "open"
HALF_OPEN = "half_open"


class ProviderBreaker:
    def __init__(
        self,
        provider: str,
        *,
        state: SharedState | None = None,
        threshold: int | None = None,
        cooldown: float | None = None,
    ) -> None:
        self.provider = provider
        self.state = state or shared_state()
        self.threshold = threshold or settings.LLM_BREAKER_FAILURES
        self.cooldown = cooldown if cooldown is not None else settings.LLM_BREAKER_COOLDOWN_SECONDS
        self._failures = f"breaker:{provider}:failures"
        self._open_until = f"breaker:{provider}:open_until"
        self._probe = f"breaker:{provider}:probe"

    @property
    def _memory(self) -> float:
        # How long state is kept: long enough to span a cool-down, short enough that
        # failures from long ago are not "consecutive" with today's.
        return max(60.0, self.cooldown * 4)

    def status(self) -> str:
        raw = self.state.get(self._open_until)
        if raw is None:
            return CLOSED
        return OPEN if time.time() < float(raw) else HALF_OPEN

    def allow(self) -> bool:
        """May a call go to this provider now? In half-open state only the one caller
        that claims the probe gets True."""
        status = self.status()
        if status == CLOSED:
            return True
        if status == OPEN:
            return False
        probe_ttl = settings.LLM_TIMEOUT_SECONDS + 5
        return self.state.add(self._probe, "1", probe_ttl)

    def record_success(self) -> None:
        # One DEL round trip; cheaper than reading first.
        self.state.delete(self._failures, self._open_until, self._probe)

    def record_failure(self) -> None:
        failures = self.state.incr(self._failures, self._memory)
        if failures >= self.threshold:
            self.state.set(self._open_until, repr(time.time() + self.cooldown), self._memory)
            self.state.delete(self._probe)
