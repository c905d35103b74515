"""Each SDK path against the emulator over real HTTP: success, streaming, 429 with
Retry-After, 5xx failover, auth errors, invalid JSON with one repair, timeouts.
"""

from __future__ import annotations

import json

import pytest

from secretary.emulators.llm.script import Step
from secretary.emulators.llm.server import RunningEmulator
from secretary.llm.chain import ProviderChain
from secretary.llm.errors import ProviderAuthError, ProviderTimeout
from secretary.llm.pricing import cost_usd
from secretary.llm.prompts import ClassificationAnswer, classify_messages
from secretary.llm.provider import ChatMessage
from secretary.llm.schemas import Category
from tests.llm._support import (
    KEY_SETTINGS,
    MODELS,
    PROVIDERS,
    RecordingSleep,
    RuleTier,
    make_email,
    make_provider,
)

VALID = {
    "category": "needs_reply",
    "confidence": 0.9,
    "meeting_request": True,
    "priority": "high",
    "reason": "asks for lunch",
}


def _chain(
    emu: RunningEmulator, *names: str, sleep: RecordingSleep | None = None, timeout: float = 5.0
) -> ProviderChain:
    return ProviderChain(
        [make_provider(n, emu, timeout=timeout) for n in names],
        RuleTier(),
        sleep=sleep or RecordingSleep(),
        max_retries=2,
    )


def _schema_in_request(name: str, body: dict[str, object]) -> object:
    if name == "openai":
        return body["response_format"]["json_schema"]["schema"]  # type: ignore[index]
    if name == "anthropic":
        return body["tools"][0]["input_schema"]  # type: ignore[index]
    return body["generationConfig"]["responseJsonSchema"]  # type: ignore[index]


@pytest.mark.parametrize("name", PROVIDERS)
def test_structured_success_with_usage_and_cost(emulator: RunningEmulator, name: str) -> None:
    chain = _chain(emulator, name)

    result = chain.classify(make_email())

    # The emulator's default responder answers a valid object for the requested schema.
    assert result.model == f"{name}:{MODELS[name]}"
    assert result.category is Category.NEEDS_REPLY
    assert result.usage is not None
    assert result.usage.input_tokens > 0
    assert result.usage.output_tokens > 0
    assert result.usage.cost_usd == cost_usd(
        name, MODELS[name], result.usage.input_tokens, result.usage.output_tokens
    )
    assert result.usage.cost_usd > 0
    (request,) = emulator.script.requests_for(name)  # type: ignore[arg-type]
    assert _schema_in_request(name, request.body) == ClassificationAnswer.model_json_schema()
    assert chain.meter.total_cost_usd == result.usage.cost_usd


@pytest.mark.parametrize("name", PROVIDERS)
def test_scripted_json_is_parsed(emulator: RunningEmulator, name: str) -> None:
    emulator.script.enqueue(name, Step(json_body=VALID))  # type: ignore[arg-type]

    result = _chain(emulator, name).classify(make_email())

    assert result.category is Category.NEEDS_REPLY
    assert result.category_confidence == 0.9
    assert result.meeting_request is True
    assert result.priority == "high"
    assert result.reason == "asks for lunch"


@pytest.mark.parametrize("name", PROVIDERS)
def test_streaming(emulator: RunningEmulator, name: str) -> None:
    provider = make_provider(name, emulator)
    emulator.script.enqueue(name, Step(text="Sure, Thursday at noon works for me."))  # type: ignore[arg-type]

    stream = provider.stream([ChatMessage(role="user", content="Draft a yes")])
    pieces = list(stream)

    assert len(pieces) > 1  # it really arrived in pieces
    assert "".join(pieces) == "Sure, Thursday at noon works for me."
    assert stream.usage is not None
    assert stream.usage.output_tokens > 0
    assert stream.usage.input_tokens > 0
    (request,) = emulator.script.requests_for(name)  # type: ignore[arg-type]
    assert request.stream is True


@pytest.mark.parametrize("name", PROVIDERS)
def test_429_is_retried_after_retry_after(emulator: RunningEmulator, name: str) -> None:
    sleep = RecordingSleep()
    emulator.script.enqueue(name, Step(status=429, retry_after=3), Step(json_body=VALID))  # type: ignore[arg-type]

    result = _chain(emulator, name, sleep=sleep).classify(make_email())

    assert result.model == f"{name}:{MODELS[name]}"
    assert sleep.waits == [3.0]  # exactly what the server asked for
    assert len(emulator.script.requests_for(name)) == 2  # type: ignore[arg-type]


@pytest.mark.parametrize("name", PROVIDERS)
def test_5xx_fails_over_to_the_next_provider(emulator: RunningEmulator, name: str) -> None:
    other = next(p for p in PROVIDERS if p != name)
    sleep = RecordingSleep()
    emulator.script.enqueue(name, Step(status=503, times=3))  # type: ignore[arg-type]
    emulator.script.enqueue(other, Step(json_body=VALID))  # type: ignore[arg-type]
    chain = _chain(emulator, name, other, sleep=sleep)

    result = chain.classify(make_email())

    assert result.model == f"{other}:{MODELS[other]}"
    assert len(emulator.script.requests_for(name)) == 3  # type: ignore[arg-type]  # 1 + 2 retries
    assert len(sleep.waits) == 2  # exponential backoff between them
    assert [(a.provider, a.outcome) for a in chain.last_attempts] == [
        (name, "unavailable"),
        (other, "ok"),
    ]


@pytest.mark.parametrize("name", PROVIDERS)
def test_auth_error_is_not_retried_and_says_what_to_fix(
    emulator: RunningEmulator, name: str
) -> None:
    emulator.script.enqueue(name, Step(status=401, times=-1))  # type: ignore[arg-type]
    sleep = RecordingSleep()
    chain = _chain(emulator, name, sleep=sleep)

    result = chain.classify(make_email())

    assert result.model == "local:test"  # the chain fell through to the local tier
    assert len(emulator.script.requests_for(name)) == 1  # type: ignore[arg-type]
    assert sleep.waits == []
    (attempt,) = chain.last_attempts
    assert attempt.outcome == "auth_error"
    assert KEY_SETTINGS[name] in attempt.detail
    assert f"{name} auth_error" in result.reason
    assert KEY_SETTINGS[name] in result.reason
    with pytest.raises(ProviderAuthError, match=KEY_SETTINGS[name]):
        make_provider(name, emulator).chat([ChatMessage(role="user", content="hi")])


@pytest.mark.parametrize("name", PROVIDERS)
def test_invalid_json_gets_one_repair_then_local(emulator: RunningEmulator, name: str) -> None:
    emulator.script.enqueue(name, Step(text='{"category": "urgent!!"', times=5))  # type: ignore[arg-type]
    chain = _chain(emulator, name)

    result = chain.classify(make_email())

    assert result.model == "local:test"
    requests = emulator.script.requests_for(name)  # type: ignore[arg-type]
    assert len(requests) == 2  # the answer and exactly one repair
    repair = json.dumps(requests[1].body)
    assert "did not match the schema" in repair
    assert "did not match the schema" not in json.dumps(requests[0].body)
    assert [a.outcome for a in chain.last_attempts] == ["invalid_output"]


@pytest.mark.parametrize("name", PROVIDERS)
def test_invalid_json_repaired_on_second_try(emulator: RunningEmulator, name: str) -> None:
    emulator.script.enqueue(name, Step(text="Sure! Here it is: needs_reply"), Step(json_body=VALID))  # type: ignore[arg-type]
    chain = _chain(emulator, name)

    result = chain.classify(make_email())

    assert result.model == f"{name}:{MODELS[name]}"
    assert result.category is Category.NEEDS_REPLY
    assert result.usage is not None
    # Both calls are paid for and counted.
    requests = emulator.script.requests_for(name)  # type: ignore[arg-type]
    assert len(requests) == 2
    first = chain.meter.totals[(name, MODELS[name])]
    assert first["calls"] == 2
    assert result.usage.input_tokens == first["input_tokens"]


@pytest.mark.parametrize("name", PROVIDERS)
def test_timeout_is_retried(emulator: RunningEmulator, name: str) -> None:
    provider = make_provider(name, emulator, timeout=0.3)
    emulator.script.enqueue(name, Step(delay_seconds=1.5, json_body=VALID))  # type: ignore[arg-type]
    with pytest.raises(ProviderTimeout):
        provider.chat(classify_messages(make_email()), schema=ClassificationAnswer)

    emulator.script.enqueue(name, Step(delay_seconds=1.5, json_body=VALID), Step(json_body=VALID))  # type: ignore[arg-type]
    sleep = RecordingSleep()
    chain = ProviderChain([provider], RuleTier(), sleep=sleep)
    result = chain.classify(make_email())
    assert result.model == f"{name}:{MODELS[name]}"
    assert len(sleep.waits) == 1
