"""Fixtures for the LLM gateway tests: loopback provider servers and clean state.

``providers(openai=server, anthropic=server2, ...)`` enables exactly those providers,
pointing the real SDKs at the fake servers; everything else is disabled.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pytest
from django.core.cache import cache

from agents_app.llm.state import shared_state
from tests.support.llm_servers import FakeLLMServer

ALL_PROVIDERS = ("openai", "anthropic", "google", "groq", "mistral", "cohere", "local")


@pytest.fixture(autouse=True)
def _clean_llm_state(settings: Any) -> Iterator[None]:
    settings.LLM_TIMEOUT_SECONDS = 2.0
    settings.LLM_CONNECT_TIMEOUT_SECONDS = 1.0
    settings.LLM_BREAKER_FAILURES = 3
    settings.LLM_BREAKER_COOLDOWN_SECONDS = 30.0
    settings.LLM_ROUTING_MODE = "priority"
    settings.LLM_CACHE_TTL = 300
    settings.LLM_JUDGE_PROVIDER = ""
    settings.LLM_JUDGE_MODEL = ""
    settings.LLM_PROVIDERS = {name: {"api_key": "", "base_url": ""} for name in ALL_PROVIDERS}
    cache.clear()
    shared_state().clear()
    yield
    cache.clear()
    shared_state().clear()


@pytest.fixture
def servers() -> Iterator[Callable[..., FakeLLMServer]]:
    started: list[FakeLLMServer] = []

    def start(kind: str, prefix: str = "/v1") -> FakeLLMServer:
        server = FakeLLMServer(kind, prefix=prefix).start()
        started.append(server)
        return server

    yield start
    for server in started:
        server.stop()


@pytest.fixture
def providers(settings: Any) -> Callable[..., None]:
    """Enable the given providers (by env settings) at the given fake servers, in that order."""

    def configure(**by_name: FakeLLMServer) -> None:
        table = {name: {"api_key": "", "base_url": ""} for name in ALL_PROVIDERS}
        for name, server in by_name.items():
            table[name] = {"api_key": f"test-key-{name}", "base_url": server.base_url}
        settings.LLM_PROVIDERS = table
        settings.LLM_PROVIDER_ORDER = [*by_name, *(n for n in ALL_PROVIDERS if n not in by_name)]

    return configure
