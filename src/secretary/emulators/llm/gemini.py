"""Gemini API wire protocol: ``POST /v1beta/models/{model}:generateContent`` and
``:streamGenerateContent?alt=sse`` (also under ``/v1``).

JSON mode follows ``generationConfig.responseMimeType`` with ``responseJsonSchema`` (or the
older ``responseSchema``); function calls come back as ``functionCall`` parts. Errors use
Google's ``{"error": {"code", "message", "status"}}`` shape.
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
)

router = APIRouter(tags=["gemini"])

_STATUSES = {
    400: "INVALID_ARGUMENT",
    401: "UNAUTHENTICATED",
    403: "PERMISSION_DENIED",
    404: "NOT_FOUND",
    429: "RESOURCE_EXHAUSTED",
    500: "INTERNAL",
    503: "UNAVAILABLE",
    504: "DEADLINE_EXCEEDED",
}


def error_response(step: Step) -> JSONResponse:
    message = step.text or (
        "API key not valid. Please pass a valid API key."
        if step.status in (400, 401)
        else f"emulated error {step.status}"
    )
    return JSONResponse(
        {
            "error": {
                "code": step.status,
                "message": message,
                "status": _STATUSES.get(step.status, "UNKNOWN"),
            }
        },
        status_code=step.status,
        headers=retry_headers(step),
    )


def _text_of(content: Any) -> str:
    if not isinstance(content, dict):
        return ""
    return " ".join(str(p.get("text", "")) for p in content.get("parts", []) if isinstance(p, dict))


def _response(
    parts: list[dict[str, Any]], model: str, usage: dict[str, int], final: bool
) -> dict[str, Any]:
    candidate: dict[str, Any] = {"content": {"role": "model", "parts": parts}, "index": 0}
    if final:
        candidate["finishReason"] = "STOP"
    return {"candidates": [candidate], "usageMetadata": usage, "modelVersion": model}


# google-genai 3.x talks to ``/v1``; older SDKs and curl examples use ``/v1beta``.
@router.post("/v1beta/models/{target}")
@router.post("/v1/models/{target}")
async def generate(target: str, request: Request) -> Response:
    model, _, method = target.partition(":")
    if method not in ("generateContent", "streamGenerateContent"):
        return JSONResponse(
            {"error": {"code": 404, "message": f"unknown method {method}", "status": "NOT_FOUND"}},
            status_code=404,
        )
    body: dict[str, Any] = await request.json()
    stream = method == "streamGenerateContent"
    authorized = bool(request.headers.get("x-goog-api-key") or request.query_params.get("key"))
    step = await begin(request, "gemini", body, authorized=authorized, stream=stream)
    if step is not None and step.status >= 400:
        return error_response(step)

    contents: list[dict[str, Any]] = body.get("contents", [])
    prompt = (
        _text_of(body.get("systemInstruction")) + "\n" + "\n".join(_text_of(c) for c in contents)
    )
    last_user = next(
        (_text_of(c) for c in reversed(contents) if c.get("role", "user") == "user"), ""
    )
    hint = hint_from(last_user)
    parts: list[dict[str, Any]] = []
    text = step.answer_text() if step is not None else None
    if text is not None:
        parts.append({"text": text})
    parts.extend(
        {"functionCall": {"name": call.name, "args": call.arguments}}
        for call in (step.tool_calls if step is not None else [])
    )
    if not parts:
        config = body.get("generationConfig") or {}
        schema = config.get("responseJsonSchema") or config.get("responseSchema")
        if config.get("responseMimeType") == "application/json":
            answer: Any = default_object(schema, hint) if schema else {"echo": hint}
            parts.append({"text": json.dumps(answer)})
        else:
            parts.append({"text": f"Emulated reply: {hint}"})

    input_tokens = (
        step.input_tokens if step and step.input_tokens is not None else count_tokens(prompt)
    )
    output_tokens = (
        step.output_tokens
        if step and step.output_tokens is not None
        else sum(count_tokens(p.get("text") or json.dumps(p.get("functionCall"))) for p in parts)
    )
    usage = {
        "promptTokenCount": input_tokens,
        "candidatesTokenCount": output_tokens,
        "totalTokenCount": input_tokens + output_tokens,
    }
    if not stream:
        return JSONResponse(_response(parts, model, usage, final=True))

    def events() -> Iterator[str]:
        pieces: list[dict[str, Any]] = []
        for part in parts:
            if "text" in part:
                pieces.extend({"text": piece} for piece in chunks_of(part["text"]))
            else:
                pieces.append(part)
        for i, piece in enumerate(pieces):
            final = i == len(pieces) - 1
            # Gemini reports the running usage on every chunk; the last one is complete.
            chunk_usage = usage if final else {"promptTokenCount": input_tokens}
            yield f"data: {json.dumps(_response([piece], model, chunk_usage, final))}\r\n\r\n"

    return StreamingResponse(events(), media_type="text/event-stream")
