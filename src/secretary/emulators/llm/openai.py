"""OpenAI Chat Completions wire protocol: ``POST /v1/chat/completions``, ``GET /v1/models``.

Covers what the adapter and any OpenAI-compatible client use: messages, ``response_format``
(``json_schema`` and ``json_object``), tools, ``stream=true`` server-sent events with
``stream_options.include_usage``, usage numbers, and OpenAI-shaped errors.
"""

from __future__ import annotations

import json
import time
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
)

router = APIRouter(tags=["openai"])

MODELS = ("gpt-4o-mini", "gpt-4o", "gpt-4.1-mini", "llama3.2")

_ERROR_TYPES = {
    400: ("invalid_request_error", None),
    401: ("invalid_request_error", "invalid_api_key"),
    403: ("permission_error", None),
    404: ("invalid_request_error", "model_not_found"),
    429: ("rate_limit_error", "rate_limit_exceeded"),
}


def error_response(step: Step) -> JSONResponse:
    kind, code = _ERROR_TYPES.get(step.status, ("server_error", None))
    message = step.text or f"emulated error {step.status}"
    if step.status == 401 and not step.text:
        message = "Incorrect API key provided."
    return JSONResponse(
        {"error": {"message": message, "type": kind, "param": None, "code": code}},
        status_code=step.status,
        headers=retry_headers(step),
    )


def _message_text(message: dict[str, Any]) -> str:
    content = message.get("content")
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        return " ".join(str(p.get("text", "")) for p in content if isinstance(p, dict))
    return ""


def _default_answer(body: dict[str, Any], hint: str) -> str:
    fmt = body.get("response_format") or {}
    if fmt.get("type") == "json_schema":
        schema = (fmt.get("json_schema") or {}).get("schema") or {}
        return json.dumps(default_object(schema, hint))
    if fmt.get("type") == "json_object":
        return json.dumps({"echo": hint})
    return f"Emulated reply: {hint}"


@router.get("/v1/models")
def list_models() -> dict[str, Any]:
    return {
        "object": "list",
        "data": [
            {"id": m, "object": "model", "created": 0, "owned_by": "emulator"} for m in MODELS
        ],
    }


@router.post("/v1/chat/completions")
async def chat_completions(request: Request) -> Response:
    body: dict[str, Any] = await request.json()
    stream = bool(body.get("stream"))
    authorized = request.headers.get("authorization", "").startswith("Bearer ")
    step = await begin(request, "openai", body, authorized=authorized, stream=stream)
    if step is not None and step.status >= 400:
        return error_response(step)

    messages: list[dict[str, Any]] = body.get("messages", [])
    prompt = "\n".join(_message_text(m) for m in messages)
    last_user = next((_message_text(m) for m in reversed(messages) if m.get("role") == "user"), "")
    text = step.answer_text() if step is not None else None
    tool_calls = step.tool_calls if step is not None else []
    if text is None and not tool_calls:
        text = _default_answer(body, hint_from(last_user))
    model = str(body.get("model", MODELS[0]))
    input_tokens = (
        step.input_tokens if step and step.input_tokens is not None else count_tokens(prompt)
    )
    output_tokens = (
        step.output_tokens
        if step and step.output_tokens is not None
        else count_tokens(text or "")
        + sum(count_tokens(json.dumps(t.arguments)) for t in tool_calls)
    )
    usage = {
        "prompt_tokens": input_tokens,
        "completion_tokens": output_tokens,
        "total_tokens": input_tokens + output_tokens,
    }
    created = int(time.time())
    completion_id = f"chatcmpl-emu-{len(request.app.state.llm_script.requests)}"
    wire_calls = [
        {
            "id": f"call_{i}",
            "type": "function",
            "function": {"name": call.name, "arguments": json.dumps(call.arguments)},
        }
        for i, call in enumerate(tool_calls)
    ]
    finish = "tool_calls" if tool_calls else "stop"

    if not stream:
        message: dict[str, Any] = {"role": "assistant", "content": text, "refusal": None}
        if wire_calls:
            message["tool_calls"] = wire_calls
        return JSONResponse(
            {
                "id": completion_id,
                "object": "chat.completion",
                "created": created,
                "model": model,
                "choices": [
                    {"index": 0, "message": message, "finish_reason": finish, "logprobs": None}
                ],
                "usage": usage,
            }
        )

    include_usage = bool((body.get("stream_options") or {}).get("include_usage"))

    def events() -> Iterator[str]:
        base = {"id": completion_id, "object": "chat.completion.chunk", "created": created}
        base["model"] = model

        def chunk(delta: dict[str, Any], finish_reason: str | None = None) -> str:
            choice = {"index": 0, "delta": delta, "finish_reason": finish_reason}
            return f"data: {json.dumps({**base, 'choices': [choice]})}\n\n"

        yield chunk({"role": "assistant", "content": ""})
        for piece in chunks_of(text or "") if text else []:
            yield chunk({"content": piece})
        for i, call in enumerate(wire_calls):
            yield chunk({"tool_calls": [{"index": i, **call}]})
        yield chunk({}, finish)
        if include_usage:
            yield f"data: {json.dumps({**base, 'choices': [], 'usage': usage})}\n\n"
        yield "data: [DONE]\n\n"

    return StreamingResponse(events(), media_type="text/event-stream")
