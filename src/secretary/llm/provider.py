"""The one interface every chat provider adapter implements, and what it returns.

Adapters (``openai.py``, ``anthropic.py``, ``gemini.py``) wrap the official SDKs with their
own retries switched off: retrying, failover and the circuit breaker live in ``chain.py`` so
that all providers behave the same. Adapters translate SDK errors into ``llm.errors``.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator, Mapping, Sequence
from typing import Any, Literal, Protocol, runtime_checkable

from pydantic import BaseModel, Field, ValidationError

from secretary.llm.pricing import cost_usd
from secretary.llm.schemas import Usage


class ChatMessage(BaseModel):
    role: Literal["system", "user", "assistant"]
    content: str


class ToolCall(BaseModel):
    """A function/tool call the model asked for. Data only: never executed from here."""

    name: str
    arguments: dict[str, Any] = Field(default_factory=dict)


class ChatResult(BaseModel):
    text: str = ""  # the raw answer (for structured calls: the JSON as received)
    parsed: Any = None  # an instance of the requested schema, when the answer validated
    validation_error: str | None = None  # why the answer did not validate, for the repair turn
    tool_calls: list[ToolCall] = Field(default_factory=list)
    usage: Usage


class ChatStream:
    """An iterator of text pieces; ``usage`` is filled in once the stream is exhausted."""

    def __init__(self, pieces: Iterator[str], finish: Callable[[], Usage]) -> None:
        self._pieces = pieces
        self._finish = finish
        self.usage: Usage | None = None

    def __iter__(self) -> Iterator[str]:
        yield from self._pieces
        self.usage = self._finish()


@runtime_checkable
class ChatProvider(Protocol):
    """A chat model behind an official SDK (or any OpenAI-compatible server)."""

    name: str  # the registry name, e.g. "openai", "ollama"
    model: str

    def chat(
        self,
        messages: Sequence[ChatMessage],
        *,
        schema: type[BaseModel] | None = None,
        timeout: float | None = None,
    ) -> ChatResult:
        """One completion. With ``schema``, ask for JSON matching it and validate the answer.

        Raises:
            ProviderError: a subclass from ``llm.errors`` (auth, rate limit, 5xx, timeout ...).
        """
        ...

    def stream(
        self, messages: Sequence[ChatMessage], *, timeout: float | None = None
    ) -> ChatStream:
        """Stream plain text; the stream's ``usage`` is set when it ends."""
        ...


def make_usage(provider: str, model: str, input_tokens: int, output_tokens: int) -> Usage:
    return Usage(
        provider=provider,
        model=model,
        input_tokens=input_tokens,
        output_tokens=output_tokens,
        cost_usd=cost_usd(provider, model, input_tokens, output_tokens),
    )


def finish_result(
    text: str,
    schema: type[BaseModel] | None,
    usage: Usage,
    tool_calls: Sequence[ToolCall] = (),
) -> ChatResult:
    """Validate ``text`` against ``schema``; keep the error for the single repair turn."""
    result = ChatResult(text=text, tool_calls=list(tool_calls), usage=usage)
    if schema is None:
        return result
    try:
        result.parsed = schema.model_validate_json(strip_fences(text))
    except ValidationError as exc:
        result.validation_error = _short_errors(exc)
    return result


def strip_fences(text: str) -> str:
    """Models wrap JSON in Markdown fences despite being told not to; accept that."""
    body = text.strip()
    if body.startswith("```"):
        body = body.split("\n", 1)[1] if "\n" in body else ""
        body = body.rsplit("```", 1)[0]
    return body.strip()


def _short_errors(exc: ValidationError) -> str:
    lines = []
    for err in exc.errors()[:8]:
        where = ".".join(str(p) for p in err["loc"]) or "(root)"
        lines.append(f"{where}: {err['msg']}")
    return "; ".join(lines)


def parse_arguments(raw: str | Mapping[str, Any] | None) -> dict[str, Any]:
    if isinstance(raw, Mapping):
        return dict(raw)
    if not raw:
        return {}
    try:
        value = json.loads(raw)
    except ValueError:
        return {"_unparsed": raw[:200]}
    return value if isinstance(value, dict) else {"_value": value}


def retry_after_from(headers: Mapping[str, str] | None) -> float | None:
    """Seconds to wait from ``retry-after-ms`` (OpenAI) or ``Retry-After`` (seconds or a date)."""
    if not headers:
        return None
    millis = headers.get("retry-after-ms")
    if millis:
        try:
            return max(0.0, float(millis) / 1000)
        except ValueError:
            pass
    from secretary.kit.retry_after import parse_retry_after

    return parse_retry_after(headers.get("retry-after"))
