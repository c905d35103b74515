"""Google's batch endpoint: ``POST /batch/gmail/v1`` (and ``/batch``, ``/batch/<api>/<v>``).

Accepts ``multipart/mixed`` exactly as googleapiclient's ``BatchHttpRequest`` sends it (each
part ``application/http`` holding one request; ``Content-ID: <base + n>``) and answers with
``multipart/mixed`` parts ``Content-ID: <response-base + n>``. Each inner request is
dispatched through the same ASGI app, so it passes the same routing, auth (its own
``Authorization`` header, else the outer one), quota charge and fault injection as a direct
call. Parts run concurrently (``BATCH_PARALLELISM`` at a time), each holding one of the
user's concurrent-request slots, so per-part 429 "Too many concurrent requests" answers can
appear inside a 200 batch response, as on Google. Hand-rolled: no library parses Google's
batch wire format.
"""

from __future__ import annotations

import asyncio
import json
import re
import uuid
from typing import Any
from urllib.parse import parse_qs, unquote, urlsplit

from fastapi import APIRouter, Request
from starlette.responses import Response
from starlette.types import ASGIApp, Message

from workspace_emulator import gmail
from workspace_emulator.drive_store import select_fields
from workspace_emulator.errors import GoogleApiError, error_response, json_response
from workspace_emulator.quota import guarded_call
from workspace_emulator.state import EmulatorState

router = APIRouter(tags=["batch"])

MAX_PARTS = 100
# Parts of one batch in flight at once (Google's own number is not documented; this equals
# the default per-user concurrency limit, so a batch alone never trips it).
BATCH_PARALLELISM = 10
_REASONS = {
    200: "OK",
    204: "No Content",
    400: "Bad Request",
    401: "Unauthorized",
    403: "Forbidden",
    404: "Not Found",
    409: "Conflict",
    429: "Too Many Requests",
    500: "Internal Server Error",
    501: "Not Implemented",
    503: "Service Unavailable",
}


def _split_lines_block(data: bytes) -> tuple[bytes, bytes]:
    """(header block, rest) split at the first blank line (CRLF or LF)."""
    crlf = data.find(b"\r\n\r\n")
    lf = data.find(b"\n\n")
    if crlf != -1 and (lf == -1 or crlf < lf):
        return data[:crlf], data[crlf + 4 :]
    if lf != -1:
        return data[:lf], data[lf + 2 :]
    return data, b""


def _headers(block: bytes) -> list[tuple[str, str]]:
    out = []
    for line in block.decode("latin-1").splitlines():
        name, sep, value = line.partition(":")
        if sep:
            out.append((name.strip(), value.strip()))
    return out


def parse_batch(body: bytes, content_type: str) -> list[tuple[str, bytes]]:
    """(Content-ID, inner HTTP request bytes) per part."""
    boundary = ""
    for item in content_type.split(";")[1:]:
        key, _, value = item.strip().partition("=")
        if key.lower() == "boundary":
            boundary = value.strip().strip('"')
    if not boundary:
        raise GoogleApiError(400, "Missing multipart boundary", reason="badContent")
    delimiter = b"--" + boundary.encode()
    parts = []
    for chunk in body.split(delimiter)[1:]:
        if chunk.startswith(b"--"):
            break
        chunk = chunk.removeprefix(b"\r\n").removeprefix(b"\n")
        if chunk.endswith(b"\r\n"):
            chunk = chunk[:-2]
        elif chunk.endswith(b"\n"):
            chunk = chunk[:-1]
        head, inner = _split_lines_block(chunk)
        content_id = ""
        for name, value in _headers(head):
            if name.lower() == "content-id":
                content_id = value
        parts.append((content_id, inner))
    return parts


async def _dispatch(
    app: ASGIApp, inner: bytes, outer: Request
) -> tuple[int, list[tuple[str, str]], bytes]:
    head, body = _split_lines_block(inner)
    lines = head.decode("latin-1").splitlines()
    if not lines:
        raise GoogleApiError(400, "Empty batch part", reason="badContent")
    method, _, rest = lines[0].partition(" ")
    target = rest.rsplit(" ", 1)[0] if rest.endswith(("HTTP/1.1", "HTTP/1.0")) else rest
    url = urlsplit(target.strip())
    headers = [(k.lower(), v) for k, v in _headers("\n".join(lines[1:]).encode("latin-1"))]
    names = {k for k, _ in headers}
    if "authorization" not in names and "authorization" in outer.headers:
        headers.append(("authorization", outer.headers["authorization"]))
    fast = await _fast_get(outer.app.state.emulator, method.upper(), url.path, url.query, headers)
    if fast is not None:
        return fast
    content_length = [("content-length", str(len(body)))] if body else []
    headers = [(k, v) for k, v in headers if k != "content-length"] + content_length
    scope: dict[str, Any] = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": method.upper(),
        "scheme": outer.url.scheme,
        "path": url.path,
        "raw_path": url.path.encode(),
        "query_string": url.query.encode(),
        "root_path": "",
        "headers": [(k.encode("latin-1"), v.encode("latin-1")) for k, v in headers],
        "client": outer.client and (outer.client.host, outer.client.port),
        "server": outer.scope.get("server"),
    }
    sent = False

    async def receive() -> Message:
        nonlocal sent
        if sent:
            return {"type": "http.disconnect"}
        sent = True
        return {"type": "http.request", "body": body, "more_body": False}

    status = 500
    out_headers: list[tuple[str, str]] = []
    chunks: list[bytes] = []

    async def send(message: Message) -> None:
        nonlocal status, out_headers
        if message["type"] == "http.response.start":
            status = message["status"]
            out_headers = [
                (k.decode("latin-1"), v.decode("latin-1")) for k, v in message.get("headers", [])
            ]
        elif message["type"] == "http.response.body":
            chunks.append(message.get("body", b""))

    await app(scope, receive, send)
    return status, out_headers, b"".join(chunks)


# The sync's hot path (messages.get / threads.get in batches of 50) skips per-part ASGI
# routing and dependency solving, which cost ~3 ms a part in FastAPI; it runs the same gate
# (auth, userId check, quota, faults) and the same renderers as the routes.
_FAST_GET = re.compile(r"^/gmail/v1/users/([^/]+)/(messages|threads)/([^/]+)$")


async def _fast_get(
    state: EmulatorState, method: str, path: str, query: str, headers: list[tuple[str, str]]
) -> tuple[int, list[tuple[str, str]], bytes] | None:
    match = _FAST_GET.match(path) if method == "GET" else None
    if match is None:
        return None
    user_id, kind, item_id = (unquote(g) for g in match.groups())
    params = parse_qs(query)
    unknown = set(params) - {"format", "metadataHeaders", "alt", "prettyPrint", "fields"}
    if unknown:
        return None  # let the full app answer anything unusual
    fmt = params.get("format", ["full"])[-1]
    metadata_headers = params.get("metadataHeaders")
    authorization = next((v for k, v in headers if k == "authorization"), "")
    method_id = f"gmail.users.{kind}.get"
    try:
        flat = {k: v[-1] for k, v in params.items()}
        async with guarded_call(state, method_id, authorization, user_id, flat) as user:
            render = gmail.render_message if kind == "messages" else gmail.render_thread
            response = render(user, item_id, fmt, metadata_headers)
    except GoogleApiError as exc:
        response = error_response(exc)
    if params.get("fields") and response.status_code == 200:
        try:
            masked = select_fields(json.loads(bytes(response.body)), params["fields"][-1])
            response = json_response(masked)
        except GoogleApiError as exc:
            response = error_response(exc)
    return (
        response.status_code,
        [(k.decode("latin-1"), v.decode("latin-1")) for k, v in response.raw_headers],
        bytes(response.body),
    )


async def _batch(request: Request) -> Response:
    try:
        parts = parse_batch(await request.body(), request.headers.get("content-type", ""))
        if len(parts) > MAX_PARTS:
            raise GoogleApiError(
                400, f"A batch request may hold at most {MAX_PARTS} calls.", reason="badRequest"
            )
    except GoogleApiError as exc:
        return error_response(exc)
    boundary = f"batch_{uuid.uuid4().hex}"
    out = bytearray()
    window = asyncio.Semaphore(BATCH_PARALLELISM)

    async def run(inner: bytes) -> tuple[int, list[tuple[str, str]], bytes]:
        async with window:
            return await _dispatch(request.app, inner, request)

    # Google runs a batch's parts concurrently: each holds one of the user's concurrent
    # request slots, so a batch beside other traffic can draw per-part 429s inside a 200.
    results = await asyncio.gather(*(run(inner) for _cid, inner in parts))
    for (content_id, _inner), (status, headers, body) in zip(parts, results, strict=True):
        response_id = content_id
        if content_id.startswith("<") and content_id.endswith(">"):
            response_id = f"<response-{content_id[1:-1]}>"
        out += f"--{boundary}\r\nContent-Type: application/http\r\n".encode()
        if response_id:
            out += f"Content-ID: {response_id}\r\n".encode()
        out += f"\r\nHTTP/1.1 {status} {_REASONS.get(status, 'Status')}\r\n".encode()
        for name, value in headers:
            if name.lower() in ("content-type", "retry-after", "www-authenticate"):
                out += f"{name}: {value}\r\n".encode("latin-1")
        out += f"Content-Length: {len(body)}\r\n\r\n".encode()
        out += body
        out += b"\r\n"
    out += f"--{boundary}--\r\n".encode()
    return Response(content=bytes(out), media_type=f"multipart/mixed; boundary={boundary}")


@router.post("/batch/{api}/{version}")
async def batch_api(request: Request, api: str, version: str) -> Response:
    return await _batch(request)


@router.post("/batch")
async def batch_root(request: Request) -> Response:
    return await _batch(request)
