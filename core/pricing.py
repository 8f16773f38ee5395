"""What model tokens cost, from the ``model_prices`` setting.

The setting lists US dollars per million prompt and completion tokens:
``gpt-4o-mini=0.15/0.60, gpt-4o=2.50/10.00``. A model that is not listed has
no cost, only tokens; an entry that does not read is logged and skipped.
"""

from __future__ import annotations

import dataclasses
import functools
import logging

logger = logging.getLogger(__name__)


@dataclasses.dataclass(frozen=True)
class Price:
    prompt_per_million: float
    completion_per_million: float


@functools.cache
def parse_prices(text: str) -> dict[str, Price]:
    """Prices by model name.

    >>> parse_prices("a=1/2, b=0.5/1")["b"]
    Price(prompt_per_million=0.5, completion_per_million=1.0)
    """
    prices: dict[str, Price] = {}
    for entry in text.split(","):
        if not entry.strip():
            continue
        try:
            name, rates = entry.split("=", 1)
            prompt, completion = rates.split("/", 1)
            prices[name.strip()] = Price(float(prompt), float(completion))
        except ValueError:
            logger.warning(
                "Ignoring the price entry %r: write it as model=prompt/completion", entry
            )
    return prices


def cost_usd(
    model: str | None, prompt_tokens: int, completion_tokens: int, prices: str
) -> float | None:
    """Dollars for the tokens, or None when the model's price is unknown."""
    if not model:
        return None
    price = parse_prices(prices).get(model)
    if price is None:
        return None
    return (
        prompt_tokens * price.prompt_per_million + completion_tokens * price.completion_per_million
    ) / 1_000_000
