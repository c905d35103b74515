"""Anthropic Messages wire protocol: ``POST /v1/messages``, plain and streaming.

Structured output arrives the way the adapter asks for it: a forced tool
(``tool_choice={"type": "tool", "name": ...}``), answered with a ``tool_use`` block built from
the tool's ``input_schema``. Streaming emits ``message_start``, ``content_block_start``,
``ping``, ``content_block_delta``, ``content_block_stop``, ``message_delta``, ``message_stop``.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse, Response, StreamingResponse

from secretary.emulators.llm.script import (
    Step,
    begin,
    chunks_of,
    count_tokens,
    default_object,
    hint_from,
    retry_headers,
    sse,
)

router = APIRouter(tags=["anthropic"])

_ERROR_TYPES = {
    400: "invalid_request_error",
    401: "authentication_error",
    403: "permission_error",
    404: "not_found_error",
    413: "request_too_large",
    429: "rate_limit_error",
    529: "overloaded_error",
}


def error_response(step: Step) -> JSONResponse:
    message = step.text or (
        "invalid x-api-key" if step.status == 401 else f"emulated error {step.status}"
    )
    return JSONResponse(
        {
            "type": "error",
            "error": {"type": _ERROR_TYPES.get(step.status, "api_error"), "message": message},
        },
        status_code=step.status,
        headers=retry_headers(step),
    )


def _text_of(content: Any) -> str:
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        return " ".join(str(b.get("text", "")) for b in content if isinstance(b, dict))
    return ""


@router.post("/v1/messages")
async def create_message(request: Request) -> Response:
    body: dict[str, Any] = await request.json()
    stream = bool(body.get("stream"))
    authorized = bool(request.headers.get("x-api-key") or request.headers.get("authorization"))
    step = await begin(request, "anthropic", body, authorized=authorized, stream=stream)
    if step is not None and step.status >= 400:
        return error_response(step)

    messages: list[dict[str, Any]] = body.get("messages", [])
    prompt = (
        _text_of(body.get("system", ""))
        + "\n"
        + "\n".join(_text_of(m.get("content")) for m in messages)
    )
    last_user = next(
        (_text_of(m.get("content")) for m in reversed(messages) if m.get("role") == "user"), ""
    )
    hint = hint_from(last_user)
    blocks: list[dict[str, Any]] = []
    text = step.answer_text() if step is not None else None
    if text is not None:
        blocks.append({"type": "text", "text": text})
    for i, call in enumerate(step.tool_calls if step is not None else []):
        blocks.append(
            {"type": "tool_use", "id": f"toolu_emu_{i}", "name": call.name, "input": call.arguments}
        )
    if not blocks:
        forced = body.get("tool_choice") or {}
        tools = {t.get("name"): t for t in body.get("tools", []) if isinstance(t, dict)}
        if forced.get("type") == "tool" and forced.get("name") in tools:
            schema = tools[forced["name"]].get("input_schema") or {}
            blocks.append(
                {
                    "type": "tool_use",
                    "id": "toolu_emu_0",
                    "name": forced["name"],
                    "input": default_object(schema, hint),
                }
            )
        else:
            blocks.append({"type": "text", "text": f"Emulated reply: {hint}"})

    input_tokens = (
        step.input_tokens if step and step.input_tokens is not None else count_tokens(prompt)
    )
    output_tokens = (
        step.output_tokens
        if step and step.output_tokens is not None
        else sum(count_tokens(b.get("text") or json.dumps(b.get("input"))) for b in blocks)
    )
    stop_reason = "tool_use" if any(b["type"] == "tool_use" for b in blocks) else "end_turn"
    message_id = f"msg_emu_{len(request.app.state.llm_script.requests)}"
    model = str(body.get("model", "claude-3-5-haiku-latest"))
    message = {
        "id": message_id,
        "type": "message",
        "role": "assistant",
        "model": model,
        "content": blocks,
        "stop_reason": stop_reason,
        "stop_sequence": None,
        "usage": {"input_tokens": input_tokens, "output_tokens": output_tokens},
    }
    if not stream:
        return JSONResponse(message)

    def events() -> Iterator[str]:
        start = {**message, "content": [], "stop_reason": None}
        start["usage"] = {"input_tokens": input_tokens, "output_tokens": 1}
        yield sse({"type": "message_start", "message": start}, "message_start")
        for index, block in enumerate(blocks):
            if block["type"] == "text":
                empty: dict[str, Any] = {"type": "text", "text": ""}
                yield sse(
                    {"type": "content_block_start", "index": index, "content_block": empty},
                    "content_block_start",
                )
                if index == 0:
                    yield sse({"type": "ping"}, "ping")
                for piece in chunks_of(block["text"]):
                    delta = {"type": "text_delta", "text": piece}
                    yield sse(
                        {"type": "content_block_delta", "index": index, "delta": delta},
                        "content_block_delta",
                    )
            else:
                head = {**block, "input": {}}
                yield sse(
                    {"type": "content_block_start", "index": index, "content_block": head},
                    "content_block_start",
                )
                delta = {"type": "input_json_delta", "partial_json": json.dumps(block["input"])}
                yield sse(
                    {"type": "content_block_delta", "index": index, "delta": delta},
                    "content_block_delta",
                )
            yield sse({"type": "content_block_stop", "index": index}, "content_block_stop")
        yield sse(
            {
                "type": "message_delta",
                "delta": {"stop_reason": stop_reason, "stop_sequence": None},
                "usage": {"output_tokens": output_tokens},
            },
            "message_delta",
        )
        yield sse({"type": "message_stop"}, "message_stop")

    return StreamingResponse(events(), media_type="text/event-stream")
