"""Personalisation placeholders: ``{first_name}`` and friends, filled per recipient.

Only the names in ``PLACEHOLDERS`` exist. A brief (``content_template``) naming any
other is refused; in the model's copy an unknown one is removed (and reported on the
variant) so no customer ever receives a literal ``{discount_code}``. ``{{`` and ``}}``
stand for literal braces.
"""

from __future__ import annotations

import re
from collections.abc import Mapping

# name -> what it stands for; values come from the customer row.
PLACEHOLDERS: dict[str, str] = {
    "first_name": "the customer's first name ('there' when unknown: 'Hi {first_name}' reads 'Hi there')",
    "last_name": "the customer's last name (empty when unknown)",
    "full_name": "first and last name ('there' when both are unknown)",
    "city": "the customer's city (empty when unknown)",
    "country": "the customer's country code (empty when unknown)",
}
_TOKEN = re.compile(r"\{\{|\}\}|\{([^{}]*)\}")


def names_in(text: str) -> list[str]:
    """Placeholder names used in ``text`` (in order, repeated as used)."""
    return [m.group(1) for m in _TOKEN.finditer(text) if m.group(1) is not None]


def unknown_in(text: str) -> list[str]:
    return sorted({name for name in names_in(text) if name not in PLACEHOLDERS})


def strip_unknown(text: str) -> tuple[str, list[str]]:
    """``text`` without unknown placeholders, and the names removed."""
    removed: list[str] = []

    def replace(match: re.Match[str]) -> str:
        name = match.group(1)
        if name is None or name in PLACEHOLDERS:
            return match.group(0)
        removed.append(name)
        return ""

    return _TOKEN.sub(replace, text), sorted(set(removed))


def values_for(*, first_name: str, last_name: str, city: str, country: str) -> dict[str, str]:
    full = f"{first_name} {last_name}".strip()
    return {
        "first_name": first_name or "there",
        "last_name": last_name,
        "full_name": full or "there",
        "city": city,
        "country": country,
    }


def render(text: str, values: Mapping[str, str]) -> str:
    """Fill every known placeholder; ``{{``/``}}`` become braces; unknown ones stay as typed."""

    def replace(match: re.Match[str]) -> str:
        piece = match.group(0)
        if piece in ("{{", "}}"):
            return piece[0]
        name = match.group(1)
        return values.get(name, piece) if name in PLACEHOLDERS else piece

    return _TOKEN.sub(replace, text)
