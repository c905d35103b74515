"""Gemini adapter on the official ``google-genai`` SDK (``generateContent``).

Structured output uses ``response_mime_type="application/json"`` with
``response_json_schema`` (plain JSON Schema, so pydantic's schema passes through untouched).
The SDK's own retries stay off (``attempts=1``); the chain retries and fails over.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import Any

import httpx
import httpx2
from google.genai import errors as genai_errors
from google.genai import types
from pydantic import BaseModel

from google import genai
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

# google-genai may use either httpx generation depending on its version and extras.
_TIMEOUTS = (httpx.TimeoutException, httpx2.TimeoutException)
_TRANSPORT = (httpx.TransportError, httpx2.TransportError)


class GeminiProvider:
    def __init__(
        self,
        *,
        model: str,
        api_key: str | None,
        base_url: str | None = None,
        timeout: float = 30.0,
        name: str = "gemini",
        key_setting: str = "SECRETARY_LLM__GEMINI_API_KEY",
    ) -> None:
        self.name = name
        self.model = model
        self.timeout = timeout
        self._key_setting = key_setting
        self._client = genai.Client(
            api_key=api_key or "no-key",
            http_options=types.HttpOptions(
                base_url=base_url,
                timeout=int(timeout * 1000),
                retry_options=types.HttpRetryOptions(attempts=1),
            ),
        )

    def _config(
        self, messages: Sequence[ChatMessage], schema: type[BaseModel] | None, timeout: float | None
    ) -> tuple[types.GenerateContentConfig, list[types.Content]]:
        system = "\n\n".join(m.content for m in messages if m.role == "system")
        contents = [
            types.Content(
                role="model" if m.role == "assistant" else "user",
                parts=[types.Part(text=m.content)],
            )
            for m in messages
            if m.role != "system"
        ]
        config: dict[str, Any] = {
            "http_options": types.HttpOptions(
                timeout=int((timeout or self.timeout) * 1000),
                retry_options=types.HttpRetryOptions(attempts=1),
            )
        }
        if system:
            config["system_instruction"] = system
        if schema is not None:
            config["response_mime_type"] = "application/json"
            config["response_json_schema"] = schema.model_json_schema()
        return types.GenerateContentConfig(**config), contents

    def chat(
        self,
        messages: Sequence[ChatMessage],
        *,
        schema: type[BaseModel] | None = None,
        timeout: float | None = None,
    ) -> ChatResult:
        config, contents = self._config(messages, schema, timeout)
        try:
            response = self._client.models.generate_content(
                model=self.model,
                contents=contents,
                config=config,
            )
        except (genai_errors.APIError, *_TIMEOUTS, *_TRANSPORT) as exc:
            raise self._translate(exc) from exc
        texts: list[str] = []
        calls: list[ToolCall] = []
        candidate = response.candidates[0] if response.candidates else None
        parts = candidate.content.parts if candidate and candidate.content else None
        for part in parts or []:
            if part.text is not None and not part.thought:
                texts.append(part.text)
            if part.function_call is not None and part.function_call.name:
                calls.append(
                    ToolCall(
                        name=part.function_call.name,
                        arguments=parse_arguments(part.function_call.args),
                    )
                )
        meta = response.usage_metadata
        usage = make_usage(
            self.name,
            self.model,
            (meta.prompt_token_count or 0) if meta else 0,
            (meta.candidates_token_count or 0) if meta else 0,
        )
        return finish_result("".join(texts), schema, usage, calls)

    def stream(
        self, messages: Sequence[ChatMessage], *, timeout: float | None = None
    ) -> ChatStream:
        config, contents = self._config(messages, None, timeout)
        counts = {"input": 0, "output": 0}

        def pieces() -> Iterator[str]:
            try:
                for chunk in self._client.models.generate_content_stream(
                    model=self.model,
                    contents=contents,
                    config=config,
                ):
                    meta = chunk.usage_metadata
                    if meta is not None:
                        counts["input"] = meta.prompt_token_count or counts["input"]
                        counts["output"] = meta.candidates_token_count or counts["output"]
                    candidate = chunk.candidates[0] if chunk.candidates else None
                    if candidate and candidate.content and candidate.content.parts:
                        for part in candidate.content.parts:
                            if part.text and not part.thought:
                                yield part.text
            except (genai_errors.APIError, *_TIMEOUTS, *_TRANSPORT) as exc:
                raise self._translate(exc) from exc

        def finish() -> Usage:
            return make_usage(self.name, self.model, counts["input"], counts["output"])

        return ChatStream(pieces(), finish)

    def _translate(self, exc: Exception) -> ProviderError:
        if isinstance(exc, _TIMEOUTS):
            return ProviderTimeout(self.name, "the request timed out")
        if isinstance(exc, _TRANSPORT):
            return ProviderUnavailable(self.name, "cannot connect to the API")
        if not isinstance(exc, genai_errors.APIError):
            return ProviderBadRequest(self.name, f"unusable response ({type(exc).__name__})")
        code = int(exc.code or 0)
        headers = exc.response.headers if exc.response is not None else None
        # Gemini answers a bad key with 400 INVALID_ARGUMENT "API key not valid".
        bad_key = code == 400 and "api key" in str(exc.message or "").lower()
        return from_status(
            self.name, code, headers, key_setting=self._key_setting, auth_failed=bad_key
        )
