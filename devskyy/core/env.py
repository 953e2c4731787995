"""One typed reader for every environment variable the platform uses.

Each accessor validates its value and raises ``ConfigError`` naming the variable,
so a bad deployment fails at start-up with a message an operator can act on,
instead of running with a silently wrong value.
"""

from __future__ import annotations

import builtins
import os
import re
from collections.abc import Mapping, Sequence
from urllib.parse import urlsplit

from django.core.exceptions import ImproperlyConfigured

_TRUE = "true"
_FALSE = "false"


class ConfigError(ImproperlyConfigured):
    """An environment variable is missing or has a value we refuse to run with."""


class Env:
    """Reads variables from a mapping (``os.environ`` by default).

    Empty strings count as unset, so ``FOO=`` in a ``.env`` file means "use the default".
    """

    def __init__(self, environ: Mapping[builtins.str, builtins.str] | None = None) -> None:
        self._environ = os.environ if environ is None else environ

    def raw(self, name: builtins.str) -> builtins.str | None:
        value = self._environ.get(name)
        if value is None:
            return None
        value = value.strip()
        return value or None

    def is_set(self, name: builtins.str) -> builtins.bool:
        return self.raw(name) is not None

    def str(self, name: builtins.str, default: builtins.str = "") -> builtins.str:
        value = self.raw(name)
        return default if value is None else value

    def required_str(self, name: builtins.str, *, why: builtins.str) -> builtins.str:
        value = self.raw(name)
        if value is None:
            raise ConfigError(f"{name} is required {why}.")
        return value

    def bool(self, name: builtins.str, default: builtins.bool) -> builtins.bool:
        value = self.raw(name)
        if value is None:
            return default
        lowered = value.lower()
        if lowered == _TRUE:
            return True
        if lowered == _FALSE:
            return False
        raise ConfigError(f"{name} must be 'true' or 'false', got {value!r}.")

    def int(
        self,
        name: builtins.str,
        default: builtins.int,
        *,
        minimum: builtins.int | None = None,
        maximum: builtins.int | None = None,
    ) -> builtins.int:
        value = self.raw(name)
        if value is None:
            return default
        try:
            number = int(value)
        except ValueError:
            raise ConfigError(f"{name} must be a whole number, got {value!r}.") from None
        self._check_range(name, number, minimum, maximum)
        return number

    def float(
        self,
        name: builtins.str,
        default: builtins.float,
        *,
        minimum: builtins.float | None = None,
        maximum: builtins.float | None = None,
    ) -> builtins.float:
        value = self.raw(name)
        if value is None:
            return default
        try:
            number = float(value)
        except ValueError:
            raise ConfigError(f"{name} must be a number, got {value!r}.") from None
        self._check_range(name, number, minimum, maximum)
        return number

    def list(self, name: builtins.str, default: Sequence[builtins.str]) -> builtins.list[builtins.str]:
        value = self.raw(name)
        if value is None:
            return list(default)
        return [item.strip() for item in value.split(",") if item.strip()]

    def choice(self, name: builtins.str, default: builtins.str, choices: Sequence[builtins.str]) -> builtins.str:
        value = self.raw(name)
        if value is None:
            return default
        lowered = value.lower()
        if lowered not in choices:
            allowed = ", ".join(choices)
            raise ConfigError(f"{name} must be one of {allowed}; got {value!r}.")
        return lowered

    def url(self, name: builtins.str, default: builtins.str = "", *, schemes: Sequence[builtins.str]) -> builtins.str:
        value = self.raw(name)
        if value is None:
            return default
        parts = urlsplit(value)
        if parts.scheme not in schemes or not parts.netloc:
            allowed = ", ".join(f"{s}://" for s in schemes)
            raise ConfigError(f"{name} must be a URL starting with {allowed}; got a malformed value.")
        return value

    def regex_list(self, name: builtins.str, default: Sequence[builtins.str]) -> builtins.list[builtins.str]:
        """Comma list of regexes that must be anchored at both ends."""
        patterns = self.list(name, default)
        for pattern in patterns:
            if not (pattern.startswith("^") and pattern.endswith("$")):
                raise ConfigError(f"{name}: every pattern must start with ^ and end with $; {pattern!r} does not.")
            try:
                re.compile(pattern)
            except re.error as exc:
                raise ConfigError(f"{name}: {pattern!r} is not a valid regex ({exc}).") from None
        return patterns

    @staticmethod
    def _check_range(
        name: builtins.str, number: builtins.float, minimum: builtins.float | None, maximum: builtins.float | None
    ) -> None:
        if minimum is not None and number < minimum:
            raise ConfigError(f"{name} must be at least {minimum}, got {number}.")
        if maximum is not None and number > maximum:
            raise ConfigError(f"{name} must be at most {maximum}, got {number}.")


env = Env()
