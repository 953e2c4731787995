"""Price table lookups: USD per 1M tokens per provider and model (settings.LLM_PRICES)."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal

from django.conf import settings

_PER = Decimal(1_000_000)
_QUANTUM = Decimal("0.00000001")  # the ledger keeps 8 decimal places

PRICE_TABLE = "price_table"
PROVIDER_DEFAULT = "provider_default"


@dataclass(frozen=True)
class Price:
    input_per_million: Decimal
    output_per_million: Decimal
    source: str  # price_table | provider_default

    def cost(self, prompt_tokens: int, completion_tokens: int) -> Decimal:
        amount = (self.input_per_million * prompt_tokens + self.output_per_million * completion_tokens) / _PER
        return amount.quantize(_QUANTUM, rounding=ROUND_HALF_UP)

    @property
    def blended(self) -> Decimal:
        """Input + output per 1M: what cost routing compares."""
        return self.input_per_million + self.output_per_million


def price_for(provider: str, model: str) -> Price:
    """The listed price of ``model``, else the provider's default (marked as such).

    A provider missing from the table entirely is priced at its default too; if there
    is no default either the configuration is wrong and we refuse to guess zero.
    """
    table = settings.LLM_PRICES.get(provider, {})
    if model in table:
        pair, source = table[model], PRICE_TABLE
    elif "default" in table:
        pair, source = table["default"], PROVIDER_DEFAULT
    else:
        raise LookupError(f"LLM_PRICES has no price for provider {provider!r}; add a 'default' entry.")
    return Price(Decimal(pair[0]), Decimal(pair[1]), source)
