"""The one price table: USD per million input and output tokens, per model.

Prices as published by each vendor (checked 2026-11); a model not listed costs the
fallback, which is deliberately high so an unknown model never looks free. Local servers
(Ollama and other OpenAI-compatible endpoints on this machine) cost nothing.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass

from secretary.llm.schemas import Usage


@dataclass(frozen=True)
class Price:
    input_per_mtok: float
    output_per_mtok: float


PRICES: dict[str, Price] = {
    # OpenAI
    "gpt-4o-mini": Price(0.15, 0.60),
    "gpt-4o": Price(2.50, 10.00),
    "gpt-4.1-nano": Price(0.10, 0.40),
    "gpt-4.1-mini": Price(0.40, 1.60),
    "gpt-4.1": Price(2.00, 8.00),
    "gpt-5-nano": Price(0.05, 0.40),
    "gpt-5-mini": Price(0.25, 2.00),
    "gpt-5": Price(1.25, 10.00),
    # Anthropic
    "claude-3-5-haiku": Price(0.80, 4.00),
    "claude-haiku-4-5": Price(1.00, 5.00),
    "claude-3-7-sonnet": Price(3.00, 15.00),
    "claude-sonnet-4": Price(3.00, 15.00),
    "claude-opus-4": Price(15.00, 75.00),
    # Google
    "gemini-2.0-flash-lite": Price(0.075, 0.30),
    "gemini-2.0-flash": Price(0.10, 0.40),
    "gemini-2.5-flash-lite": Price(0.10, 0.40),
    "gemini-2.5-flash": Price(0.30, 2.50),
    "gemini-2.5-pro": Price(1.25, 10.00),
}

FALLBACK = Price(5.00, 15.00)
FREE = Price(0.0, 0.0)
FREE_PROVIDERS = frozenset({"ollama", "local"})


def price_for(provider: str, model: str) -> Price:
    """The price of ``model``; dated or suffixed names match their family by longest prefix."""
    if provider in FREE_PROVIDERS:
        return FREE
    name = model.lower().removeprefix("models/")
    best = max((key for key in PRICES if name.startswith(key)), key=len, default=None)
    return PRICES[best] if best is not None else FALLBACK


def cost_usd(provider: str, model: str, input_tokens: int, output_tokens: int) -> float:
    price = price_for(provider, model)
    return round(
        (input_tokens * price.input_per_mtok + output_tokens * price.output_per_mtok) / 1_000_000,
        8,
    )


class UsageMeter:
    """Running token and cost totals per (provider, model), for reports and tests."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.totals: dict[tuple[str, str], dict[str, float]] = {}

    def add(self, usage: Usage) -> None:
        with self._lock:
            row = self.totals.setdefault(
                (usage.provider, usage.model),
                {"calls": 0, "cached": 0, "input_tokens": 0, "output_tokens": 0, "cost_usd": 0.0},
            )
            row["calls"] += 1
            row["cached"] += int(usage.cached)
            row["input_tokens"] += usage.input_tokens
            row["output_tokens"] += usage.output_tokens
            row["cost_usd"] = round(row["cost_usd"] + usage.cost_usd, 8)

    @property
    def total_cost_usd(self) -> float:
        with self._lock:
            return round(sum(row["cost_usd"] for row in self.totals.values()), 8)
