"""Shared test helpers for the LLM layer: the emulator fixtures, adapters aimed at it, and a
tiny rule-based stand-in for the local tier (the real one is tested in ``tests/llm/local``).
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from secretary.emulators.llm.server import RunningEmulator, run_in_thread
from secretary.llm.anthropic import AnthropicProvider
from secretary.llm.gemini import GeminiProvider
from secretary.llm.openai import OpenAIProvider
from secretary.llm.provider import ChatProvider
from secretary.llm.schemas import (
    Category,
    Classification,
    DraftRequest,
    DraftResult,
    EmailInput,
    Extraction,
)

PROVIDERS = ("openai", "anthropic", "gemini")
MODELS = {"openai": "gpt-4o-mini", "anthropic": "claude-haiku-4-5", "gemini": "gemini-2.0-flash"}
KEY_SETTINGS = {
    "openai": "SECRETARY_LLM__OPENAI_API_KEY",
    "anthropic": "SECRETARY_LLM__ANTHROPIC_API_KEY",
    "gemini": "SECRETARY_LLM__GEMINI_API_KEY",
}


@pytest.fixture(scope="session")
def llm_server() -> Iterator[RunningEmulator]:
    with run_in_thread() as running:
        yield running


@pytest.fixture
def emulator(llm_server: RunningEmulator) -> Iterator[RunningEmulator]:
    llm_server.script.reset()
    yield llm_server
    llm_server.script.reset()


def make_provider(
    name: str, emu: RunningEmulator, *, timeout: float = 5.0, api_key: str | None = "test-key"
) -> ChatProvider:
    if name == "openai":
        return OpenAIProvider(
            model=MODELS[name], api_key=api_key, base_url=emu.openai_base_url, timeout=timeout
        )
    if name == "anthropic":
        return AnthropicProvider(
            model=MODELS[name], api_key=api_key, base_url=emu.anthropic_base_url, timeout=timeout
        )
    if name == "gemini":
        return GeminiProvider(
            model=MODELS[name], api_key=api_key, base_url=emu.gemini_base_url, timeout=timeout
        )
    raise ValueError(name)


class RuleTier:
    """Implements IntelligenceTier without any model, so fallbacks are recognisable."""

    name = "local"

    def __init__(self) -> None:
        self.calls: list[str] = []

    def classify(self, email: EmailInput) -> Classification:
        self.calls.append("classify")
        return Classification(
            category=Category.FYI, category_confidence=0.5, model="local:test", reason="rule tier"
        )

    def extract(self, email: EmailInput) -> Extraction:
        self.calls.append("extract")
        return Extraction()

    def draft_reply(self, request: DraftRequest) -> DraftResult:
        self.calls.append("draft_reply")
        return DraftResult(should_draft=False, model="local:test", reason="rule tier")


class RecordingSleep:
    """Injected into the chain so backoff is asserted, not waited for."""

    def __init__(self) -> None:
        self.waits: list[float] = []

    def __call__(self, seconds: float) -> None:
        self.waits.append(seconds)


class FakeClock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


def make_email(**overrides: object) -> EmailInput:
    values: dict[str, object] = {
        "subject": "Lunch on Thursday?",
        "from_name": "Ana Lopez",
        "from_addr": "ana@example.org",
        "to": ["dana@example.com"],
        "body_text": "Hi Dana, are you free for lunch on Thursday at noon? Ana",
        "user_email": "dana@example.com",
    }
    values.update(overrides)
    return EmailInput.model_validate(values)
