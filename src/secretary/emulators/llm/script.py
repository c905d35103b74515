"""Scripted behaviour of the LLM emulator: queued steps, faults, recorded requests.

A *step* is what the emulator does for one request of one provider: answer with text or
JSON (valid or not), answer with tool calls, fail with an HTTP status (429 with
``Retry-After``, 401, 500, 503 ...), or sleep first (latency, timeouts). Steps queue per
provider and are consumed in order; a step with ``times=-1`` stays until reset. With an
empty queue the deterministic default responder answers (see ``default_object``).
"""

from __future__ import annotations

import asyncio
import json
import math
import threading
from collections import deque
from typing import Any, Literal

from fastapi import Request
from pydantic import BaseModel, Field

ProviderName = Literal["openai", "anthropic", "gemini"]
PROVIDERS: tuple[ProviderName, ...] = ("openai", "anthropic", "gemini")


class ToolCall(BaseModel):
    name: str
    arguments: dict[str, Any] = Field(default_factory=dict)


class Step(BaseModel):
    """One scripted reaction. Without ``status`` it answers 200."""

    text: str | None = Field(default=None, description="Answer text, verbatim (may be bad JSON).")
    json_body: Any = Field(default=None, description="Answer as JSON (serialised as the text).")
    tool_calls: list[ToolCall] = Field(default_factory=list)
    status: int = Field(default=200, description="HTTP status; >= 400 answers a provider error.")
    retry_after: float | None = Field(default=None, description="Seconds, sent as Retry-After.")
    delay_seconds: float = Field(default=0.0, ge=0, description="Latency before answering.")
    input_tokens: int | None = None
    output_tokens: int | None = None
    times: int = Field(default=1, description="How many requests this step answers; -1 = all.")

    def answer_text(self) -> str | None:
        if self.text is not None:
            return self.text
        if self.json_body is not None:
            return json.dumps(self.json_body)
        return None


class RecordedRequest(BaseModel):
    provider: ProviderName
    path: str
    body: dict[str, Any]
    stream: bool = False
    authorized: bool = True  # whether a credential was presented (never the credential)


class ScriptState:
    """Thread-safe: the server runs in a thread while the test thread scripts it."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._queues: dict[str, deque[Step]] = {p: deque() for p in PROVIDERS}
        self.requests: list[RecordedRequest] = []

    def enqueue(self, provider: ProviderName, *steps: Step) -> None:
        with self._lock:
            self._queues[provider].extend(step.model_copy() for step in steps)

    def next_step(self, provider: ProviderName) -> Step | None:
        with self._lock:
            queue = self._queues[provider]
            if not queue:
                return None
            step = queue[0]
            if step.times == -1:
                return step
            step.times -= 1
            if step.times <= 0:
                queue.popleft()
            return step

    def record(self, request: RecordedRequest) -> None:
        with self._lock:
            self.requests.append(request)

    def requests_for(self, provider: ProviderName) -> list[RecordedRequest]:
        with self._lock:
            return [r for r in self.requests if r.provider == provider]

    def pending(self, provider: ProviderName) -> int:
        with self._lock:
            return len(self._queues[provider])

    def reset(self) -> None:
        with self._lock:
            for queue in self._queues.values():
                queue.clear()
            self.requests.clear()


def count_tokens(text: str) -> int:
    """A deterministic stand-in for a tokenizer: about four characters per token."""
    return max(1, (len(text) + 3) // 4) if text else 0


def _resolve(schema: dict[str, Any], root: dict[str, Any]) -> dict[str, Any]:
    ref = schema.get("$ref")
    if isinstance(ref, str) and ref.startswith("#/"):
        node: Any = root
        for part in ref[2:].split("/"):
            node = node[part]
        return _resolve(node, root)
    return schema


def default_object(
    schema: dict[str, Any], hint: str, *, _root: dict[str, Any] | None = None
) -> Any:
    """A valid instance of a JSON schema, built deterministically from the prompt ``hint``.

    Why hand-rolled: the emulator needs the *first* valid value of a schema, not random
    data (hypothesis-jsonschema would add a heavy test-only dependency to a shipped part).
    """
    root = _root if _root is not None else schema
    schema = _resolve(schema, root)
    if "const" in schema:
        return schema["const"]
    if "enum" in schema:
        return schema["enum"][0]
    if "default" in schema:
        return schema["default"]
    for key in ("anyOf", "oneOf", "allOf"):
        if key in schema:
            options = [_resolve(o, root) for o in schema[key]]
            non_null = [o for o in options if o.get("type") != "null"]
            return default_object((non_null or options)[0], hint, _root=root)
    kind = schema.get("type")
    if isinstance(kind, list):
        kind = next((k for k in kind if k != "null"), "null")
    if kind == "object" or "properties" in schema:
        props: dict[str, Any] = schema.get("properties", {})
        return {name: default_object(sub, hint, _root=root) for name, sub in props.items()}
    if kind == "array":
        count = int(schema.get("minItems", 0))
        return [default_object(schema.get("items", {}), hint, _root=root) for _ in range(count)]
    if kind == "string":
        if schema.get("format") == "date-time":
            return "2026-01-05T09:00:00Z"
        if schema.get("format") == "date":
            return "2026-01-05"
        return f"emulated: {hint}"[: int(schema.get("maxLength", 200))]
    if kind == "number":
        low = float(schema.get("minimum", 0.0))
        high = float(schema.get("maximum", max(low, 1.0)))
        return min(max(0.5, low), high)
    if kind == "integer":
        return int(schema.get("minimum", 0))
    if kind == "boolean":
        return False
    return None


def hint_from(text: str) -> str:
    """The first few words of the last user message, for readable default answers."""
    words = text.split()
    return " ".join(words[:8])


def script_of(request: Request) -> ScriptState:
    state: ScriptState = request.app.state.llm_script
    return state


async def begin(
    request: Request,
    provider: ProviderName,
    body: dict[str, Any],
    *,
    authorized: bool,
    stream: bool,
) -> Step | None:
    """Record the request, then take the next scripted step (after its latency)."""
    state = script_of(request)
    state.record(
        RecordedRequest(
            provider=provider,
            path=request.url.path,
            body=body,
            stream=stream,
            authorized=authorized,
        )
    )
    step = state.next_step(provider)
    if not authorized and (step is None or step.status < 400):
        # A missing credential is what the real APIs answer 401 to.
        step = Step(status=401)
    if step is not None and step.delay_seconds:
        await asyncio.sleep(step.delay_seconds)
    return step


def retry_headers(step: Step) -> dict[str, str]:
    if step.retry_after is None:
        return {}
    # Retry-After is whole seconds in HTTP; OpenAI also sends the precise milliseconds.
    return {
        "retry-after": str(max(0, math.ceil(step.retry_after))),
        "retry-after-ms": str(int(step.retry_after * 1000)),
    }


def sse(data: Any, event: str | None = None) -> str:
    prefix = f"event: {event}\n" if event else ""
    return f"{prefix}data: {json.dumps(data)}\n\n"


def chunks_of(text: str, size: int = 12) -> list[str]:
    return [text[i : i + size] for i in range(0, len(text), size)] or [""]
