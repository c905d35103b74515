"""OpenAI adapter on the official ``openai`` SDK; also any OpenAI-compatible server.

Ollama, vLLM and llama.cpp speak the same Chat Completions protocol, so ``"ollama"`` is
this adapter with Ollama's defaults (``http://localhost:11434/v1``, no key, no cost).
Structured output uses ``response_format={"type": "json_schema"}`` non-strict: strict mode
rejects ordinary pydantic schemas (defaults, open objects), and we validate ourselves anyway.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import Any, cast

import openai
from openai.types.chat import ChatCompletionMessageParam
from pydantic import BaseModel

from secretary.llm.errors import (
    ProviderBadRequest,
    ProviderError,
    ProviderTimeout,
    ProviderUnavailable,
    from_status,
)
from secretary.llm.provider import (
    ChatMessage,
    ChatResult,
    ChatStream,
    ToolCall,
    finish_result,
    make_usage,
    parse_arguments,
)
from secretary.llm.schemas import Usage

OLLAMA_BASE_URL = "http://localhost:11434/v1"


def _wire(messages: Sequence[ChatMessage]) -> list[ChatCompletionMessageParam]:
    return cast("list[ChatCompletionMessageParam]", [m.model_dump() for m in messages])


class OpenAIProvider:
    def __init__(
        self,
        *,
        model: str,
        api_key: str | None,
        base_url: str | None = None,
        timeout: float = 30.0,
        name: str = "openai",
        key_setting: str = "SECRETARY_LLM__OPENAI_API_KEY",
    ) -> None:
        self.name = name
        self.model = model
        self.timeout = timeout
        self._key_setting = key_setting
        # max_retries=0: the chain retries (tenacity, honouring Retry-After) and fails over.
        self._client = openai.OpenAI(
            api_key=api_key or "no-key",
            base_url=base_url,
            max_retries=0,
            timeout=timeout,
        )

    def chat(
        self,
        messages: Sequence[ChatMessage],
        *,
        schema: type[BaseModel] | None = None,
        timeout: float | None = None,
    ) -> ChatResult:
        extra: dict[str, Any] = {}
        if schema is not None:
            extra["response_format"] = {
                "type": "json_schema",
                "json_schema": {
                    "name": schema.__name__,
                    "schema": schema.model_json_schema(),
                    "strict": False,
                },
            }
        try:
            response = self._client.chat.completions.create(
                model=self.model,
                messages=_wire(messages),
                timeout=timeout or self.timeout,
                **extra,
            )
        except openai.APIError as exc:
            raise self._translate(exc) from exc
        choice = response.choices[0] if response.choices else None
        text = (choice.message.content or "") if choice else ""
        calls = [
            ToolCall(name=call.function.name, arguments=parse_arguments(call.function.arguments))
            for call in ((choice.message.tool_calls or []) if choice else [])
            if call.type == "function"
        ]
        usage = response.usage
        return finish_result(
            text,
            schema,
            make_usage(
                self.name,
                self.model,
                usage.prompt_tokens if usage else 0,
                usage.completion_tokens if usage else 0,
            ),
            calls,
        )

    def stream(
        self, messages: Sequence[ChatMessage], *, timeout: float | None = None
    ) -> ChatStream:
        counts = {"input": 0, "output": 0}
        try:
            chunks = self._client.chat.completions.create(
                model=self.model,
                messages=_wire(messages),
                timeout=timeout or self.timeout,
                stream=True,
                stream_options={"include_usage": True},
            )
        except openai.APIError as exc:
            raise self._translate(exc) from exc

        def pieces() -> Iterator[str]:
            try:
                for chunk in chunks:
                    if chunk.usage is not None:
                        counts["input"] = chunk.usage.prompt_tokens
                        counts["output"] = chunk.usage.completion_tokens
                    for choice in chunk.choices:
                        if choice.delta.content:
                            yield choice.delta.content
            except openai.APIError as exc:
                raise self._translate(exc) from exc

        def finish() -> Usage:
            return make_usage(self.name, self.model, counts["input"], counts["output"])

        return ChatStream(pieces(), finish)

    def _translate(self, exc: openai.APIError) -> ProviderError:
        if isinstance(exc, openai.APITimeoutError):
            return ProviderTimeout(self.name, "the request timed out")
        if isinstance(exc, openai.APIConnectionError):
            return ProviderUnavailable(self.name, "cannot connect to the API")
        if isinstance(exc, openai.APIStatusError):
            return from_status(
                self.name,
                exc.status_code,
                exc.response.headers,
                key_setting=self._key_setting,
            )
        return ProviderBadRequest(self.name, f"unusable response ({type(exc).__name__})")
