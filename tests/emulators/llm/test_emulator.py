"""The emulator's own contract: control API, recorded requests, default responder, faults."""

from __future__ import annotations

import anthropic
import httpx
import openai
import pytest
from google.genai import types

from google import genai
from secretary.emulators.llm.script import Step, ToolCall, default_object
from secretary.emulators.llm.server import RunningEmulator


def test_control_api_queues_steps_and_lists_requests(emulator: RunningEmulator) -> None:
    with httpx.Client(base_url=emulator.url) as http:
        queued = http.post(
            "/_emulator/openai/steps", json=[{"text": "first"}, {"status": 503, "times": 2}]
        )
        assert queued.json() == {"provider": "openai", "pending": 2}
        client = openai.OpenAI(api_key="k", base_url=emulator.openai_base_url, max_retries=0)
        first = client.chat.completions.create(
            model="gpt-4o-mini", messages=[{"role": "user", "content": "hello"}]
        )
        assert first.choices[0].message.content == "first"
        for _ in range(2):
            with pytest.raises(openai.InternalServerError):
                client.chat.completions.create(
                    model="gpt-4o-mini", messages=[{"role": "user", "content": "hello"}]
                )
        # The queue is drained: the default responder answers again.
        last = client.chat.completions.create(
            model="gpt-4o-mini", messages=[{"role": "user", "content": "hello again"}]
        )
        assert last.choices[0].message.content == "Emulated reply: hello again"

        recorded = http.get("/_emulator/requests", params={"provider": "openai"}).json()
        assert len(recorded) == 4
        assert recorded[0]["body"]["messages"] == [{"role": "user", "content": "hello"}]
        assert recorded[0]["authorized"] is True
        assert http.get("/_emulator/requests", params={"provider": "gemini"}).json() == []

        assert http.post("/_emulator/reset").json() == {"status": "reset"}
        assert http.get("/_emulator/requests").json() == []


def test_models_endpoint(emulator: RunningEmulator) -> None:
    client = openai.OpenAI(api_key="k", base_url=emulator.openai_base_url, max_retries=0)
    assert "gpt-4o-mini" in [m.id for m in client.models.list()]


def test_missing_credentials_get_401(emulator: RunningEmulator) -> None:
    response = httpx.post(
        f"{emulator.url}/v1/chat/completions",
        json={"model": "gpt-4o-mini", "messages": [{"role": "user", "content": "hi"}]},
    )
    assert response.status_code == 401
    assert response.json()["error"]["code"] == "invalid_api_key"


def test_openai_tool_calls_and_streamed_tool_calls(emulator: RunningEmulator) -> None:
    client = openai.OpenAI(api_key="k", base_url=emulator.openai_base_url, max_retries=0)
    call = ToolCall(name="forward", arguments={"to": "x@evil.test"})
    emulator.script.enqueue("openai", Step(tool_calls=[call], times=2))
    answer = client.chat.completions.create(
        model="gpt-4o-mini", messages=[{"role": "user", "content": "hi"}]
    )
    (tool_call,) = answer.choices[0].message.tool_calls or []
    assert tool_call.function.name == "forward"  # type: ignore[union-attr]
    assert answer.choices[0].finish_reason == "tool_calls"
    streamed = client.chat.completions.create(
        model="gpt-4o-mini", messages=[{"role": "user", "content": "hi"}], stream=True
    )
    names = [
        tc.function.name
        for chunk in streamed
        for choice in chunk.choices
        for tc in choice.delta.tool_calls or []
        if tc.function is not None
    ]
    assert names == ["forward"]


def test_gemini_function_call_and_unknown_method(emulator: RunningEmulator) -> None:
    client = genai.Client(
        api_key="k",
        http_options=types.HttpOptions(
            base_url=emulator.gemini_base_url, retry_options=types.HttpRetryOptions(attempts=1)
        ),
    )
    emulator.script.enqueue("gemini", Step(tool_calls=[ToolCall(name="delete", arguments={})]))
    response = client.models.generate_content(model="gemini-2.0-flash", contents="hi")
    assert response.function_calls is not None
    assert [c.name for c in response.function_calls] == ["delete"]
    bad = httpx.post(
        f"{emulator.url}/v1beta/models/gemini-2.0-flash:countTokens",
        json={},
        headers={"x-goog-api-key": "k"},
    )
    assert bad.status_code == 404


def test_latency_is_injected(emulator: RunningEmulator) -> None:
    client = openai.OpenAI(api_key="k", base_url=emulator.openai_base_url, max_retries=0)
    emulator.script.enqueue("openai", Step(delay_seconds=1.0))
    with pytest.raises(openai.APITimeoutError):
        client.chat.completions.create(
            model="gpt-4o-mini", messages=[{"role": "user", "content": "hi"}], timeout=0.2
        )


def test_default_object_follows_the_schema() -> None:
    schema = {
        "$defs": {"Kind": {"enum": ["b", "a"], "type": "string"}},
        "type": "object",
        "properties": {
            "kind": {"$ref": "#/$defs/Kind"},
            "score": {"type": "number", "minimum": 0, "maximum": 1},
            "count": {"type": "integer", "minimum": 3},
            "when": {"anyOf": [{"type": "string", "format": "date-time"}, {"type": "null"}]},
            "tags": {"type": "array", "items": {"type": "string"}, "minItems": 1},
            "flag": {"type": "boolean", "default": True},
            "note": {"type": "string", "maxLength": 12},
        },
    }
    assert default_object(schema, "hello world") == {
        "kind": "b",
        "score": 0.5,
        "count": 3,
        "when": "2026-01-05T09:00:00Z",
        "tags": ["emulated: hello world"[:200]],
        "flag": True,
        "note": "emulated: he",
    }


def test_anthropic_streams_tool_use_blocks(emulator: RunningEmulator) -> None:
    client = anthropic.Anthropic(api_key="k", base_url=emulator.anthropic_base_url, max_retries=0)
    call = ToolCall(name="accept_invite", arguments={"uid": "evt-1"})
    emulator.script.enqueue("anthropic", Step(text="Accepting.", tool_calls=[call]))
    with client.messages.stream(
        model="claude-haiku-4-5",
        max_tokens=100,
        messages=[{"role": "user", "content": "hi"}],
    ) as stream:
        text = "".join(stream.text_stream)
        final = stream.get_final_message()
    assert text == "Accepting."
    tool_blocks = [b for b in final.content if b.type == "tool_use"]
    assert [(b.name, b.input) for b in tool_blocks] == [("accept_invite", {"uid": "evt-1"})]
    assert final.stop_reason == "tool_use"
    assert final.usage.output_tokens > 0
