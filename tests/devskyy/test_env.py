"""The typed environment reader refuses what it cannot interpret, naming the variable."""

from __future__ import annotations

import pytest

from devskyy.core.env import ConfigError, Env


def test_booleans_accept_only_true_and_false() -> None:
    env = Env({"A": "true", "B": "FALSE", "C": "yes", "D": "1"})
    assert env.bool("A", default=False) is True
    assert env.bool("B", default=True) is False
    assert env.bool("MISSING", default=True) is True
    for name in ("C", "D"):
        with pytest.raises(ConfigError, match=name):
            env.bool(name, default=False)


def test_integers_are_parsed_and_range_checked() -> None:
    env = Env({"N": "12", "BAD": "twelve", "LOW": "0"})
    assert env.int("N", 1) == 12
    with pytest.raises(ConfigError, match="BAD must be a whole number"):
        env.int("BAD", 1)
    with pytest.raises(ConfigError, match="LOW must be at least 1"):
        env.int("LOW", 5, minimum=1)


def test_empty_value_means_default() -> None:
    assert Env({"X": "  "}).int("X", 7) == 7


def test_choice_names_allowed_values() -> None:
    with pytest.raises(ConfigError, match="ENVIRONMENT must be one of development, production"):
        Env({"ENVIRONMENT": "prod"}).choice("ENVIRONMENT", "development", ("development", "production"))


def test_regexes_must_be_anchored_at_both_ends() -> None:
    with pytest.raises(ConfigError, match="CORS_ORIGIN_REGEXES"):
        Env({"CORS_ORIGIN_REGEXES": r"^https://.*\.devskyy\.app"}).regex_list("CORS_ORIGIN_REGEXES", [])
    ok = Env({"R": r"^https://a\.b$,^https://c\.d$"}).regex_list("R", [])
    assert ok == [r"^https://a\.b$", r"^https://c\.d$"]


def test_urls_need_a_known_scheme_and_host() -> None:
    env = Env({"U": "ftp://x", "V": "redis://127.0.0.1:6379/0", "W": "redis://"})
    with pytest.raises(ConfigError, match="U must be a URL"):
        env.url("U", schemes=("redis",))
    assert env.url("V", schemes=("redis",)) == "redis://127.0.0.1:6379/0"
    with pytest.raises(ConfigError, match="W must be a URL"):
        env.url("W", schemes=("redis",))
