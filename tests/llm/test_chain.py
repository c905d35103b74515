"""The failover chain: circuit breaker timing, cache, cost accounting, build from settings."""

from __future__ import annotations

import pytest
from pydantic import SecretStr

from secretary.config import LLMSettings, Settings
from secretary.emulators.llm.script import Step
from secretary.emulators.llm.server import RunningEmulator
from secretary.errors import ConfigurationError
from secretary.llm.breaker import BreakerState
from secretary.llm.cache import ResponseCache
from secretary.llm.chain import ProviderChain, build_chain
from secretary.llm.errors import UnknownProvider
from secretary.llm.pricing import FALLBACK, cost_usd, price_for
from secretary.llm.provider import ChatProvider
from secretary.llm.registry import (
    build_tier,
    create_provider,
    provider_names,
    register_provider,
)
from secretary.llm.schemas import Category, DraftRequest
from tests.llm._support import FakeClock, RecordingSleep, RuleTier, make_email, make_provider

VALID = {"category": "fyi", "confidence": 0.8}


def _openai_chain(
    emu: RunningEmulator, clock: FakeClock, cache: ResponseCache | None = None
) -> ProviderChain:
    return ProviderChain(
        [make_provider("openai", emu)],
        RuleTier(),
        clock=clock,
        sleep=RecordingSleep(),
        max_retries=0,
        cache=cache,
    )


def test_breaker_opens_after_five_failures_in_a_minute_then_half_opens(
    emulator: RunningEmulator,
) -> None:
    clock = FakeClock()
    chain = _openai_chain(emulator, clock)
    emulator.script.enqueue("openai", Step(status=500, times=-1))

    for _ in range(5):
        assert chain.classify(make_email()).model == "local:test"
        clock.advance(10)  # five failures within 40 s
    assert chain.breaker("openai").state is BreakerState.OPEN
    assert len(emulator.script.requests_for("openai")) == 5

    # Open: no request goes out, the local tier answers at once.
    result = chain.classify(make_email())
    assert result.model == "local:test"
    assert [a.outcome for a in chain.last_attempts] == ["circuit_open"]
    assert len(emulator.script.requests_for("openai")) == 5

    clock.advance(19)  # opened at the 5th failure; 30 s have not passed yet
    chain.classify(make_email())
    assert len(emulator.script.requests_for("openai")) == 5

    clock.advance(1.5)  # half-open: one probe; it fails, so the breaker opens again
    assert chain.breaker("openai").state is BreakerState.HALF_OPEN
    chain.classify(make_email())
    assert len(emulator.script.requests_for("openai")) == 6
    assert chain.breaker("openai").state is BreakerState.OPEN
    chain.classify(make_email())
    assert len(emulator.script.requests_for("openai")) == 6

    # The provider recovers; the next probe succeeds and closes the breaker.
    emulator.script.reset()
    clock.advance(30)
    assert chain.classify(make_email()).model == "openai:gpt-4o-mini"
    assert chain.breaker("openai").state is BreakerState.CLOSED


def test_failures_spread_over_more_than_a_minute_keep_the_breaker_closed(
    emulator: RunningEmulator,
) -> None:
    clock = FakeClock()
    chain = _openai_chain(emulator, clock)
    emulator.script.enqueue("openai", Step(status=503, times=-1))
    for _ in range(8):
        chain.classify(make_email())
        clock.advance(16)  # never 5 failures within 60 s
    assert chain.breaker("openai").state is BreakerState.CLOSED
    assert len(emulator.script.requests_for("openai")) == 8


def test_cache_hit_on_repeat_until_ttl(emulator: RunningEmulator) -> None:
    clock = FakeClock()
    chain = _openai_chain(emulator, clock, ResponseCache(ttl_seconds=60, clock=clock))
    emulator.script.enqueue("openai", Step(json_body=VALID, input_tokens=900, output_tokens=40))

    first = chain.classify(make_email())
    second = chain.classify(make_email())

    assert len(emulator.script.requests_for("openai")) == 1
    assert first.category is Category.FYI
    assert second.category is Category.FYI
    assert second.usage is not None
    assert second.usage.cached is True
    assert second.usage.cost_usd == 0
    assert second.usage.input_tokens == 900
    assert [a.outcome for a in chain.last_attempts] == ["cached"]

    # A different prompt is a different key.
    chain.classify(make_email(subject="Another subject"))
    assert len(emulator.script.requests_for("openai")) == 2

    clock.advance(61)
    chain.classify(make_email())
    assert len(emulator.script.requests_for("openai")) == 3


def test_cost_accounting_uses_the_price_table(emulator: RunningEmulator) -> None:
    chain = _openai_chain(emulator, FakeClock())
    emulator.script.enqueue(
        "openai", Step(json_body=VALID, input_tokens=1_000_000, output_tokens=100_000)
    )
    result = chain.classify(make_email())
    assert result.usage is not None
    # gpt-4o-mini: $0.15 per 1M input, $0.60 per 1M output.
    assert result.usage.cost_usd == pytest.approx(0.15 + 0.06)
    totals = chain.meter.totals[("openai", "gpt-4o-mini")]
    assert totals["input_tokens"] == 1_000_000
    assert totals["cost_usd"] == pytest.approx(0.21)


def test_price_table_matching_and_fallback() -> None:
    assert price_for("openai", "gpt-4o-mini-2024-07-18") == price_for("openai", "gpt-4o-mini")
    assert price_for("openai", "gpt-4o") != price_for("openai", "gpt-4o-mini")
    assert price_for("gemini", "models/gemini-2.0-flash-lite").input_per_mtok == 0.075
    assert price_for("openai", "some-new-model") == FALLBACK
    assert cost_usd("ollama", "llama3.2", 10_000, 10_000) == 0


def test_long_retry_after_fails_over_without_waiting(emulator: RunningEmulator) -> None:
    sleep = RecordingSleep()
    chain = ProviderChain(
        [make_provider("openai", emulator), make_provider("gemini", emulator)],
        RuleTier(),
        sleep=sleep,
        max_retry_wait_seconds=20,
    )
    emulator.script.enqueue("openai", Step(status=429, retry_after=120))
    result = chain.classify(make_email())
    assert result.model == "gemini:gemini-2.0-flash"
    assert sleep.waits == []
    assert len(emulator.script.requests_for("openai")) == 1


def test_chain_ends_in_local_when_all_fail(emulator: RunningEmulator) -> None:
    local = RuleTier()
    names = ("openai", "anthropic", "gemini")
    chain = ProviderChain(
        [make_provider(n, emulator) for n in names],
        local,
        sleep=RecordingSleep(),
        max_retries=0,
    )
    for name in names:
        emulator.script.enqueue(name, Step(status=503, times=-1))  # type: ignore[arg-type]
    classification = chain.classify(make_email())
    extraction = chain.extract(make_email())
    draft = chain.draft_reply(DraftRequest(email=make_email()))
    assert classification.model == "local:test"
    assert "openai unavailable" in classification.reason
    assert extraction.proposed_times == []
    assert draft.model == "local:test"
    assert local.calls == ["classify", "extract", "draft_reply"]


def test_build_chain_from_settings(emulator: RunningEmulator) -> None:
    settings = Settings(
        env="test",
        llm=LLMSettings(
            chain=["openai", "anthropic", "gemini", "local", "ollama"],
            openai_api_key=SecretStr("k"),
            openai_base_url=emulator.openai_base_url,
            gemini_api_key=SecretStr("k"),
            gemini_base_url=emulator.gemini_base_url,
            cache_ttl_seconds=0,
        ),
    )
    local = RuleTier()
    chain = build_chain(settings, local=local)
    # anthropic has no key; nothing after local is ever reached.
    assert [link.name for link in chain.links] == ["openai", "gemini"]
    assert "SECRETARY_LLM__ANTHROPIC_API_KEY" in chain.skipped["anthropic"]
    assert chain.local is local
    assert chain.classify(make_email()).model == "openai:gpt-4o-mini"


def test_ollama_is_the_openai_adapter_with_ollama_defaults(emulator: RunningEmulator) -> None:
    settings = Settings(
        env="test",
        llm=LLMSettings(ollama_base_url=emulator.openai_base_url, ollama_model="llama3.2"),
    )
    provider = create_provider("ollama", settings)
    assert isinstance(provider, ChatProvider)
    chain = ProviderChain([provider], RuleTier())
    result = chain.classify(make_email())
    assert result.model == "ollama:llama3.2"
    assert result.usage is not None
    assert result.usage.cost_usd == 0  # a local server has no price


def test_registry_accepts_third_party_providers(emulator: RunningEmulator) -> None:
    def factory(settings: Settings) -> ChatProvider:
        return make_provider("openai", emulator)

    register_provider("acme-test", factory, replace=True)
    assert {"openai", "anthropic", "gemini", "ollama", "local", "acme-test"} <= set(
        provider_names()
    )
    assert create_provider("acme-test", Settings(env="test")).name == "openai"
    with pytest.raises(ConfigurationError, match="already registered"):
        register_provider("acme-test", factory)
    with pytest.raises(UnknownProvider):
        create_provider("nope", Settings(env="test"))


def test_draft_with_invented_amount_is_flagged(emulator: RunningEmulator) -> None:
    chain = _openai_chain(emulator, FakeClock())
    emulator.script.enqueue(
        "openai",
        Step(
            json_body={
                "should_draft": True,
                "body": "Hi Ana, happy to do it for $4,500, payable Friday. Dana",
                "intent": "confirm",
                "confidence": 0.9,
            }
        ),
    )
    draft = chain.draft_reply(DraftRequest(email=make_email()))
    assert draft.should_draft is True
    assert draft.confidence <= 0.2
    assert "$4,500" in draft.reason


def test_draft_declined_by_the_model_has_no_body(emulator: RunningEmulator) -> None:
    chain = _openai_chain(emulator, FakeClock())
    emulator.script.enqueue(
        "openai", Step(json_body={"should_draft": False, "body": "ignored", "reason": "fyi"})
    )
    draft = chain.draft_reply(DraftRequest(email=make_email()))
    assert draft.should_draft is False
    assert draft.body == ""
    assert draft.model == "openai:gpt-4o-mini"


class _BrokenProvider:
    """A third-party adapter with a bug: it raises something that is not a ProviderError."""

    name = "broken"
    model = "broken-1"

    def chat(self, *args: object, **kwargs: object) -> object:
        raise KeyError("choices")

    def stream(self, *args: object, **kwargs: object) -> object:
        raise KeyError("choices")


def test_a_crashing_adapter_falls_through_to_local() -> None:
    clock = FakeClock()
    chain = ProviderChain([_BrokenProvider()], RuleTier(), clock=clock)  # type: ignore[list-item]
    for _ in range(5):
        assert chain.classify(make_email()).model == "local:test"
    assert [a.outcome for a in chain.last_attempts] == ["error"]
    assert chain.breaker("broken").state is BreakerState.OPEN


def test_build_tier_is_the_chain_or_local_alone(emulator: RunningEmulator) -> None:
    local = RuleTier()
    assert build_tier(Settings(env="test"), local=local) is local
    with_openai = Settings(
        env="test",
        llm=LLMSettings(
            chain=["openai", "local"],
            openai_api_key=SecretStr("k"),
            openai_base_url=emulator.openai_base_url,
        ),
    )
    tier = build_tier(with_openai, local=local)
    assert isinstance(tier, ProviderChain)
    assert tier.classify(make_email()).model == "openai:gpt-4o-mini"
