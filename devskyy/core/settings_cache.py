"""Values derived from settings, computed once per process.

Settings do not change while a process runs; only Django's ``override_settings`` (and
pytest-django's ``settings`` fixture, which uses it) changes them, in tests, and it
sends ``setting_changed``: every derived value is dropped then. Reading
``django.conf.settings`` is not free (each attribute read goes through
``LazyObject.__getattribute__``, which raises and catches an AttributeError), and
some values are rebuilt from several of them on every API request (PERF P1).
Mutating a settings value in place (``settings.X["k"] = v``) sends no signal and is
not seen until the next change: assign instead.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any, TypeVar

from django.core.signals import setting_changed

T = TypeVar("T")
_derived: list[Any] = []


def derived_from_settings(fn: Callable[[], T]) -> Callable[[], T]:
    """``fn()`` once, until a setting changes."""
    cached = functools.cache(fn)
    _derived.append(cached)
    return cached


def _forget(**kwargs: Any) -> None:
    for cached in _derived:
        cached.cache_clear()


setting_changed.connect(_forget, dispatch_uid="devskyy.core.settings_cache")
