"""Anthropic adapter on the official ``anthropic`` SDK (Messages API).

Structured output is a forced tool call: one tool named ``respond`` whose ``input_schema``
is the pydantic schema, with ``tool_choice`` pinned to it; the tool input is the answer.
Other tool calls the model makes are returned as data for the action allowlist.
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Sequence
from typing import Any

import anthropic
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

ANSWER_TOOL = "respond"


class AnthropicProvider:
    def __init__(
        self,
        *,
        model: str,
        api_key: str | None,
        base_url: str | None = None,
        timeout: float = 30.0,
        max_output_tokens: int = 1024,
        name: str = "anthropic",
        key_setting: str = "SECRETARY_LLM__ANTHROPIC_API_KEY",
    ) -> None:
        self.name = name
        self.model = model
        self.timeout = timeout
        self.max_output_tokens = max_output_tokens
        self._key_setting = key_setting
        # max_retries=0: the chain retries (tenacity, honouring Retry-After) and fails over.
        self._client = anthropic.Anthropic(
            api_key=api_key or "no-key", base_url=base_url, max_retries=0, timeout=timeout
        )

    @staticmethod
    def _split(messages: Sequence[ChatMessage]) -> tuple[str, list[dict[str, str]]]:
        system = "\n\n".join(m.content for m in messages if m.role == "system")
        turns = [{"role": m.role, "content": m.content} for m in messages if m.role != "system"]
        return system, turns

    def chat(
        self,
        messages: Sequence[ChatMessage],
        *,
        schema: type[BaseModel] | None = None,
        timeout: float | None = None,
    ) -> ChatResult:
        system, turns = self._split(messages)
        extra: dict[str, Any] = {}
        if system:
            extra["system"] = system
        if schema is not None:
            extra["tools"] = [
                {
                    "name": ANSWER_TOOL,
                    "description": f"Return the answer as a {schema.__name__} object.",
                    "input_schema": schema.model_json_schema(),
                }
            ]
            extra["tool_choice"] = {"type": "tool", "name": ANSWER_TOOL}
        try:
            message = self._client.messages.create(
                model=self.model,
                max_tokens=self.max_output_tokens,
                messages=turns,  # type: ignore[arg-type]
                timeout=timeout or self.timeout,
                **extra,
            )
        except anthropic.APIError as exc:
            raise self._translate(exc) from exc
        texts: list[str] = []
        answer: str | None = None
        calls: list[ToolCall] = []
        for block in message.content:
            if block.type == "text":
                texts.append(block.text)
            elif block.type == "tool_use":
                if block.name == ANSWER_TOOL and schema is not None and answer is None:
                    answer = json.dumps(block.input)
                else:
                    calls.append(ToolCall(name=block.name, arguments=parse_arguments(block.input)))
        usage = make_usage(
            self.name, self.model, message.usage.input_tokens, message.usage.output_tokens
        )
        return finish_result(answer if answer is not None else "".join(texts), schema, usage, calls)

    def stream(
        self, messages: Sequence[ChatMessage], *, timeout: float | None = None
    ) -> ChatStream:
        system, turns = self._split(messages)
        extra: dict[str, Any] = {"system": system} if system else {}
        counts = {"input": 0, "output": 0}

        def pieces() -> Iterator[str]:
            try:
                with self._client.messages.stream(
                    model=self.model,
                    max_tokens=self.max_output_tokens,
                    messages=turns,  # type: ignore[arg-type]
                    timeout=timeout or self.timeout,
                    **extra,
                ) as events:
                    yield from events.text_stream
                    final = events.get_final_message()
                    counts["input"] = final.usage.input_tokens
                    counts["output"] = final.usage.output_tokens
            except anthropic.APIError as exc:
                raise self._translate(exc) from exc

        def finish() -> Usage:
            return make_usage(self.name, self.model, counts["input"], counts["output"])

        return ChatStream(pieces(), finish)

    def _translate(self, exc: anthropic.APIError) -> ProviderError:
        if isinstance(exc, anthropic.APITimeoutError):
            return ProviderTimeout(self.name, "the request timed out")
        if isinstance(exc, anthropic.APIConnectionError):
            return ProviderUnavailable(self.name, "cannot connect to the API")
        if isinstance(exc, anthropic.APIStatusError):
            return from_status(
                self.name,
                exc.status_code,
                exc.response.headers,
                key_setting=self._key_setting,
            )
        return ProviderBadRequest(self.name, f"unusable response ({type(exc).__name__})")
