"""Gmail v1 REST routes, shaped like ``gmail.v1.json`` (paths, verbs, parameter names).

Each route declares its discovery method id through ``api_call`` (auth, quota, faults) and
answers with pre-serialized JSON. Message uploads accept the JSON ``{raw}`` body and the
``/upload/...`` media paths (``uploadType=media|multipart``) googleapiclient uses for a
``media_body``. Storage semantics live in ``gmail_store.Mailbox``.
"""

from __future__ import annotations

import json
from typing import Annotated, Any
from urllib.parse import parse_qs

from fastapi import APIRouter, Depends, FastAPI, Query, Request
from starlette.responses import Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from workspace_emulator import gmail_settings
from workspace_emulator.drive_store import select_fields
from workspace_emulator.errors import GoogleApiError, install_error_handlers, json_response
from workspace_emulator.gmail_store import Mailbox, b64url, b64url_decode
from workspace_emulator.push import push_hub
from workspace_emulator.quota import api_call
from workspace_emulator.state import EmulatorState, EmulatorUser

router = APIRouter(tags=["gmail"])

U = "/gmail/v1/users/{userId}"
UP = "/upload/gmail/v1/users/{userId}"
MAX_LIST = 500
FORMATS = ("full", "metadata", "minimal", "raw")

# Discovery ids of the methods these routes implement (checked by the conformance test).
CLAIMED_METHODS = (
    frozenset(
        {
            "gmail.users.getProfile",
            "gmail.users.watch",
            "gmail.users.stop",
            "gmail.users.messages.list",
            "gmail.users.messages.get",
            "gmail.users.messages.insert",
            "gmail.users.messages.import",
            "gmail.users.messages.send",
            "gmail.users.messages.modify",
            "gmail.users.messages.batchModify",
            "gmail.users.messages.batchDelete",
            "gmail.users.messages.trash",
            "gmail.users.messages.untrash",
            "gmail.users.messages.delete",
            "gmail.users.messages.attachments.get",
            "gmail.users.threads.list",
            "gmail.users.threads.get",
            "gmail.users.threads.modify",
            "gmail.users.threads.trash",
            "gmail.users.threads.untrash",
            "gmail.users.threads.delete",
            "gmail.users.labels.list",
            "gmail.users.labels.get",
            "gmail.users.labels.create",
            "gmail.users.labels.update",
            "gmail.users.labels.patch",
            "gmail.users.labels.delete",
            "gmail.users.drafts.list",
            "gmail.users.drafts.get",
            "gmail.users.drafts.create",
            "gmail.users.drafts.update",
            "gmail.users.drafts.delete",
            "gmail.users.drafts.send",
            "gmail.users.history.list",
        }
    )
    | gmail_settings.CLAIMED_METHODS
)
# Media upload paths the conformance test checks against each method's mediaUpload.simple.
CLAIMED_UPLOADS = frozenset(
    {
        "gmail.users.messages.insert",
        "gmail.users.messages.import",
        "gmail.users.messages.send",
        "gmail.users.drafts.create",
        "gmail.users.drafts.update",
        "gmail.users.drafts.send",
    }
)


def install(app: FastAPI, state: EmulatorState) -> None:
    install_error_handlers(app)
    app.add_middleware(PartialResponse)


class PartialResponse:
    """Gmail's ``fields`` partial responses ("Performance tips": partial response): a 2xx
    JSON answer of a ``/gmail/`` call keeps only the selected fields. Pure ASGI, and only
    requests that carry ``fields`` are buffered."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or not scope["path"].startswith(("/gmail/", "/upload/gmail/")):
            await self.app(scope, receive, send)
            return
        fields = parse_qs(scope.get("query_string", b"").decode("latin-1")).get("fields")
        if not fields:
            await self.app(scope, receive, send)
            return
        start: Message = {}
        chunks: list[bytes] = []

        async def capture(message: Message) -> None:
            nonlocal start
            if message["type"] == "http.response.start":
                start = message
            elif message["type"] == "http.response.body":
                chunks.append(message.get("body", b""))
                if not message.get("more_body"):
                    await send_masked()

        async def send_masked() -> None:
            body = b"".join(chunks)
            status = int(start.get("status", 200))
            headers = [
                (k, v) for k, v in start.get("headers", []) if k.lower() != b"content-length"
            ]
            if 200 <= status < 300 and body:
                try:
                    body = json.dumps(
                        select_fields(json.loads(body), fields[-1]), separators=(",", ":")
                    ).encode()
                except (ValueError, GoogleApiError) as exc:
                    err = exc if isinstance(exc, GoogleApiError) else None
                    if err is not None:
                        status, body = err.status_code, json.dumps(err.body()).encode()
            headers.append((b"content-length", str(len(body)).encode()))
            await send({**start, "status": status, "headers": headers})
            await send({"type": "http.response.body", "body": body})

        await self.app(scope, receive, capture)


def _user(method_id: str) -> Any:
    return Depends(api_call(method_id))


def _empty() -> Response:
    return Response(status_code=204)


def _format(value: str) -> str:
    if value not in FORMATS:
        raise GoogleApiError(400, f"Invalid format: {value}", reason="invalidArgument")
    return value


def _cap(max_results: int) -> int:
    if max_results < 1:
        raise GoogleApiError(400, "Invalid maxResults", reason="invalidArgument")
    return min(max_results, MAX_LIST)


# --- request bodies ---------------------------------------------------------------------------
async def _json_body(request: Request) -> dict[str, Any]:
    body = await request.body()
    if not body.strip():
        return {}
    try:
        data = json.loads(body)
    except ValueError as exc:
        raise GoogleApiError(400, "Invalid JSON payload received.", reason="parseError") from exc
    if not isinstance(data, dict):
        raise GoogleApiError(400, "Invalid JSON payload received.", reason="parseError")
    return data


def _split_multipart(body: bytes, content_type: str) -> list[tuple[dict[str, str], bytes]]:
    """Parts of a multipart body with their exact bytes (a message/rfc822 part stays raw).

    Hand-rolled because ``email``'s parser re-serializes nested messages, which would change
    the bytes Gmail is supposed to store verbatim.
    """
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
        # The line break before the next delimiter belongs to the delimiter.
        if chunk.endswith(b"\r\n"):
            chunk = chunk[:-2]
        elif chunk.endswith(b"\n"):
            chunk = chunk[:-1]
        sep = chunk.find(b"\r\n\r\n")
        seplen = 4
        alt = chunk.find(b"\n\n")
        if sep == -1 or (alt != -1 and alt < sep):
            sep, seplen = alt, 2
        if sep == -1:
            head, content = chunk, b""
        else:
            head, content = chunk[:sep], chunk[sep + seplen :]
        headers = {}
        for line in head.decode("latin-1").splitlines():
            name, _, value = line.partition(":")
            if value:
                headers[name.strip().lower()] = value.strip()
        parts.append((headers, content))
    return parts


async def _upload(request: Request) -> tuple[dict[str, Any], bytes]:
    """(metadata, media bytes) of an ``/upload/...`` request."""
    upload_type = request.query_params.get("uploadType", "media")
    body = await request.body()
    if upload_type == "media":
        return {}, body
    if upload_type == "multipart":
        parts = _split_multipart(body, request.headers.get("content-type", ""))
        if len(parts) != 2:
            raise GoogleApiError(
                400, "Multipart upload needs metadata and media", reason="badContent"
            )
        meta_raw = parts[0][1].strip()
        try:
            meta = json.loads(meta_raw) if meta_raw else {}
        except ValueError as exc:
            raise GoogleApiError(
                400, "Invalid JSON payload received.", reason="parseError"
            ) from exc
        return (meta if isinstance(meta, dict) else {}), parts[1][1]
    raise GoogleApiError(400, f"Unsupported uploadType: {upload_type}", reason="invalidArgument")


def _raw_of(message: dict[str, Any]) -> bytes:
    raw = message.get("raw")
    if not raw:
        raise GoogleApiError(
            400, "'raw' RFC822 payload message string is required.", reason="invalidArgument"
        )
    try:
        return b64url_decode(str(raw))
    except ValueError as exc:
        raise GoogleApiError(400, "Invalid raw payload", reason="invalidArgument") from exc


async def _message_input(request: Request, *, upload: bool) -> tuple[dict[str, Any], bytes]:
    if upload:
        return await _upload(request)
    body = await _json_body(request)
    return body, _raw_of(body)


async def _draft_input(request: Request, *, upload: bool) -> tuple[dict[str, Any], bytes | None]:
    """(draft metadata, message raw or None) for drafts.create/update/send."""
    if upload:
        meta, media = await _upload(request)
        return meta, media
    body = await _json_body(request)
    message = body.get("message") or {}
    return body, (_raw_of(message) if message.get("raw") else None)


# --- profile, watch ------------------------------------------------------------------------
@router.get(U + "/profile")
async def get_profile(user: Annotated[EmulatorUser, _user("gmail.users.getProfile")]) -> Response:
    return json_response(user.mailbox.profile())


@router.post(U + "/watch")
async def watch(
    request: Request, user: Annotated[EmulatorUser, _user("gmail.users.watch")]
) -> Response:
    body = await _json_body(request)
    return json_response(push_hub(request.app.state.emulator).watch(user, body))


@router.post(U + "/stop")
async def stop(
    request: Request, user: Annotated[EmulatorUser, _user("gmail.users.stop")]
) -> Response:
    push_hub(request.app.state.emulator).stop(user.email)
    return _empty()


# --- messages ------------------------------------------------------------------------------
@router.get(U + "/messages")
async def list_messages(
    user: Annotated[EmulatorUser, _user("gmail.users.messages.list")],
    q: str | None = None,
    labelIds: Annotated[list[str] | None, Query()] = None,  # noqa: N803  # Google's name
    pageToken: str | None = None,  # noqa: N803
    maxResults: int = 100,  # noqa: N803
    includeSpamTrash: bool = False,  # noqa: N803
) -> Response:
    return json_response(
        user.mailbox.list_messages(
            q=q,
            label_ids=labelIds or (),
            include_spam_trash=includeSpamTrash,
            page_token=pageToken,
            max_results=_cap(maxResults),
        )
    )


@router.get(U + "/messages/{id}")
async def get_message(
    id: str,  # Google's parameter name
    user: Annotated[EmulatorUser, _user("gmail.users.messages.get")],
    format: str = "full",
    metadataHeaders: Annotated[list[str] | None, Query()] = None,  # noqa: N803
) -> Response:
    return render_message(user, id, format, metadataHeaders)


def render_message(
    user: EmulatorUser, message_id: str, fmt: str, metadata_headers: list[str] | None
) -> Response:
    """``messages.get`` body; shared with the batch endpoint's fast path."""
    fmt = _format(fmt)
    mailbox = user.mailbox
    with mailbox.lock:
        return json_response(mailbox.get(message_id).render(fmt, metadata_headers))


def render_thread(
    user: EmulatorUser, thread_id: str, fmt: str, metadata_headers: list[str] | None
) -> Response:
    return json_response(user.mailbox.get_thread(thread_id, _format(fmt), metadata_headers))


def _label_list(value: Any) -> list[str]:
    if value is None:
        return []
    if not isinstance(value, list):
        raise GoogleApiError(400, "labelIds must be a list", reason="invalidArgument")
    return [str(v) for v in value]


def _insert(
    mailbox: Mailbox, meta: dict[str, Any], raw: bytes, *, import_: bool, source: str | None
) -> Response:
    use_header = (source or ("dateHeader" if import_ else "receivedTime")) == "dateHeader"
    labels = _label_list(meta.get("labelIds"))
    if not import_ and mailbox.from_me(raw) and "SENT" not in labels:
        labels.append("SENT")  # Gmail labels inserted mail from the user's address SENT
    msg = mailbox.add_message(
        raw,
        label_ids=labels,
        thread_id=meta.get("threadId"),
        use_date_header=use_header,
    )
    return json_response(msg.ref_with_labels())


@router.post(U + "/messages")
async def insert_message(
    request: Request,
    user: Annotated[EmulatorUser, _user("gmail.users.messages.insert")],
    internalDateSource: str | None = None,  # noqa: N803
) -> Response:
    meta, raw = await _message_input(request, upload=False)
    return _insert(user.mailbox, meta, raw, import_=False, source=internalDateSource)


@router.post(UP + "/messages")
async def insert_message_upload(
    request: Request,
    user: Annotated[EmulatorUser, _user("gmail.users.messages.insert")],
    internalDateSource: str | None = None,  # noqa: N803
) -> Response:
    meta, raw = await _message_input(request, upload=True)
    return _insert(user.mailbox, meta, raw, import_=False, source=internalDateSource)


@router.post(U + "/messages/import")
async def import_message(
    request: Request,
    user: Annotated[EmulatorUser, _user("gmail.users.messages.import")],
    internalDateSource: str | None = None,  # noqa: N803
) -> Response:
    meta, raw = await _message_input(request, upload=False)
    return _insert(user.mailbox, meta, raw, import_=True, source=internalDateSource)


@router.post(UP + "/messages/import")
async def import_message_upload(
    request: Request,
    user: Annotated[EmulatorUser, _user("gmail.users.messages.import")],
    internalDateSource: str | None = None,  # noqa: N803
) -> Response:
    meta, raw = await _message_input(request, upload=True)
    return _insert(user.mailbox, meta, raw, import_=True, source=internalDateSource)


@router.post(U + "/messages/send")
async def send_message(
    request: Request, user: Annotated[EmulatorUser, _user("gmail.users.messages.send")]
) -> Response:
    meta, raw = await _message_input(request, upload=False)
    return json_response(user.mailbox.send(raw, thread_id=meta.get("threadId")).ref_with_labels())


@router.post(UP + "/messages/send")
async def send_message_upload(
    request: Request, user: Annotated[EmulatorUser, _user("gmail.users.messages.send")]
) -> Response:
    meta, raw = await _message_input(request, upload=True)
    return json_response(user.mailbox.send(raw, thread_id=meta.get("threadId")).ref_with_labels())


@router.post(U + "/messages/batchModify")
async def batch_modify(
    request: Request, user: Annotated[EmulatorUser, _user("gmail.users.messages.batchModify")]
) -> Response:
    body = await _json_body(request)
    ids = _label_list(body.get("ids"))
    if len(ids) > 1000:
        raise GoogleApiError(400, "Too many ids (max 1000)", reason="invalidArgument")
    user.mailbox.batch_modify(
        ids, _label_list(body.get("addLabelIds")), _label_list(body.get("removeLabelIds"))
    )
    return _empty()


@router.post(U + "/messages/batchDelete")
async def batch_delete(
    request: Request, user: Annotated[EmulatorUser, _user("gmail.users.messages.batchDelete")]
) -> Response:
    body = await _json_body(request)
    mailbox = user.mailbox
    with mailbox.lock:
        for message_id in _label_list(body.get("ids")):
            if message_id in mailbox.messages:
                mailbox.delete(message_id)
    return _empty()


@router.post(U + "/messages/{id}/modify")
async def modify_message(
    id: str,
    request: Request,
    user: Annotated[EmulatorUser, _user("gmail.users.messages.modify")],
) -> Response:
    body = await _json_body(request)
    msg = user.mailbox.modify(
        id, _label_list(body.get("addLabelIds")), _label_list(body.get("removeLabelIds"))
    )
    return json_response(msg.ref_with_labels())


@router.post(U + "/messages/{id}/trash")
async def trash_message(
    id: str, user: Annotated[EmulatorUser, _user("gmail.users.messages.trash")]
) -> Response:
    return json_response(user.mailbox.trash(id).ref_with_labels())


@router.post(U + "/messages/{id}/untrash")
async def untrash_message(
    id: str,
    user: Annotated[EmulatorUser, _user("gmail.users.messages.untrash")],
) -> Response:
    return json_response(user.mailbox.untrash(id).ref_with_labels())


@router.delete(U + "/messages/{id}")
async def delete_message(
    id: str, user: Annotated[EmulatorUser, _user("gmail.users.messages.delete")]
) -> Response:
    user.mailbox.delete(id)
    return _empty()


@router.get(U + "/messages/{messageId}/attachments/{id}")
async def get_attachment(
    messageId: str,  # noqa: N803
    id: str,
    user: Annotated[EmulatorUser, _user("gmail.users.messages.attachments.get")],
) -> Response:
    mailbox = user.mailbox
    with mailbox.lock:
        data = mailbox.get(messageId).attachment(id)
    if data is None:
        raise GoogleApiError(404, "Requested entity was not found.", reason="notFound")
    return json_response({"attachmentId": id, "size": len(data), "data": b64url(data)})


# --- threads -------------------------------------------------------------------------------
@router.get(U + "/threads")
async def list_threads(
    user: Annotated[EmulatorUser, _user("gmail.users.threads.list")],
    q: str | None = None,
    labelIds: Annotated[list[str] | None, Query()] = None,  # noqa: N803
    pageToken: str | None = None,  # noqa: N803
    maxResults: int = 100,  # noqa: N803
    includeSpamTrash: bool = False,  # noqa: N803
) -> Response:
    return json_response(
        user.mailbox.list_threads(
            q=q,
            label_ids=labelIds or (),
            include_spam_trash=includeSpamTrash,
            page_token=pageToken,
            max_results=_cap(maxResults),
        )
    )


@router.get(U + "/threads/{id}")
async def get_thread(
    id: str,
    user: Annotated[EmulatorUser, _user("gmail.users.threads.get")],
    format: str = "full",
    metadataHeaders: Annotated[list[str] | None, Query()] = None,  # noqa: N803
) -> Response:
    return render_thread(user, id, format, metadataHeaders)


@router.post(U + "/threads/{id}/modify")
async def modify_thread(
    id: str,
    request: Request,
    user: Annotated[EmulatorUser, _user("gmail.users.threads.modify")],
) -> Response:
    body = await _json_body(request)
    mailbox = user.mailbox
    with mailbox.lock:
        ids = mailbox.thread_message_ids(id)
        mailbox.batch_modify(
            ids, _label_list(body.get("addLabelIds")), _label_list(body.get("removeLabelIds"))
        )
        return json_response(mailbox.get_thread(id, "minimal"))


@router.post(U + "/threads/{id}/trash")
async def trash_thread(
    id: str, user: Annotated[EmulatorUser, _user("gmail.users.threads.trash")]
) -> Response:
    mailbox = user.mailbox
    with mailbox.lock:
        for message_id in mailbox.thread_message_ids(id):
            mailbox.trash(message_id)
        return json_response(mailbox.get_thread(id, "minimal"))


@router.post(U + "/threads/{id}/untrash")
async def untrash_thread(
    id: str, user: Annotated[EmulatorUser, _user("gmail.users.threads.untrash")]
) -> Response:
    mailbox = user.mailbox
    with mailbox.lock:
        for message_id in mailbox.thread_message_ids(id):
            mailbox.untrash(message_id)
        return json_response(mailbox.get_thread(id, "minimal"))


@router.delete(U + "/threads/{id}")
async def delete_thread(
    id: str, user: Annotated[EmulatorUser, _user("gmail.users.threads.delete")]
) -> Response:
    mailbox = user.mailbox
    with mailbox.lock:
        for message_id in mailbox.thread_message_ids(id):
            mailbox.delete(message_id)
    return _empty()


# --- labels --------------------------------------------------------------------------------
@router.get(U + "/labels")
async def list_labels(user: Annotated[EmulatorUser, _user("gmail.users.labels.list")]) -> Response:
    mailbox = user.mailbox
    with mailbox.lock:
        return json_response({"labels": [label.render() for label in mailbox.labels.values()]})


@router.get(U + "/labels/{id}")
async def get_label(
    id: str, user: Annotated[EmulatorUser, _user("gmail.users.labels.get")]
) -> Response:
    mailbox = user.mailbox
    with mailbox.lock:
        label = mailbox.get_label(id)
        return json_response({**label.render(), **mailbox.label_counts(id)})


@router.post(U + "/labels")
async def create_label(
    request: Request, user: Annotated[EmulatorUser, _user("gmail.users.labels.create")]
) -> Response:
    body = await _json_body(request)
    return json_response(user.mailbox.create_label(body).render())


@router.put(U + "/labels/{id}")
async def update_label(
    id: str,
    request: Request,
    user: Annotated[EmulatorUser, _user("gmail.users.labels.update")],
) -> Response:
    body = await _json_body(request)
    return json_response(user.mailbox.update_label(id, body, patch=False).render())


@router.patch(U + "/labels/{id}")
async def patch_label(
    id: str,
    request: Request,
    user: Annotated[EmulatorUser, _user("gmail.users.labels.patch")],
) -> Response:
    body = await _json_body(request)
    return json_response(user.mailbox.update_label(id, body, patch=True).render())


@router.delete(U + "/labels/{id}")
async def delete_label(
    id: str, user: Annotated[EmulatorUser, _user("gmail.users.labels.delete")]
) -> Response:
    user.mailbox.delete_label(id)
    return _empty()


# --- drafts --------------------------------------------------------------------------------
@router.get(U + "/drafts")
async def list_drafts(
    user: Annotated[EmulatorUser, _user("gmail.users.drafts.list")],
    pageToken: str | None = None,  # noqa: N803
    maxResults: int = 100,  # noqa: N803
    q: str | None = None,
    includeSpamTrash: bool = False,  # noqa: N803
) -> Response:
    mailbox = user.mailbox
    limit = _cap(maxResults)
    with mailbox.lock:
        draft_ids = sorted(mailbox.drafts, reverse=True)
        if q:
            allowed = {
                m["id"]
                for m in mailbox.list_messages(
                    q=q,
                    label_ids=["DRAFT"],
                    include_spam_trash=includeSpamTrash,
                    max_results=MAX_LIST,
                ).get("messages", [])
            }
            draft_ids = [d for d in draft_ids if mailbox.drafts[d] in allowed]
        start = int(pageToken) if pageToken and pageToken.isdigit() else 0
        page = draft_ids[start : start + limit]
        result: dict[str, Any] = {
            "drafts": [
                {"id": d, "message": mailbox.messages[mailbox.drafts[d]].ref()} for d in page
            ],
            "resultSizeEstimate": len(draft_ids),
        }
        if not page:
            del result["drafts"]
        if start + limit < len(draft_ids):
            result["nextPageToken"] = str(start + limit)
        return json_response(result)


@router.get(U + "/drafts/{id}")
async def get_draft(
    id: str,
    user: Annotated[EmulatorUser, _user("gmail.users.drafts.get")],
    format: str = "full",
) -> Response:
    return json_response(user.mailbox.render_draft(id, _format(format)))


async def _create_draft(request: Request, user: EmulatorUser, *, upload: bool) -> Response:
    meta, raw = await _draft_input(request, upload=upload)
    if raw is None:
        raise GoogleApiError(400, "Missing draft message", reason="invalidArgument")
    message = meta.get("message") or {}
    draft_id, _msg = user.mailbox.create_draft(raw, thread_id=message.get("threadId"))
    return json_response(user.mailbox.render_draft(draft_id))


@router.post(U + "/drafts")
async def create_draft(
    request: Request, user: Annotated[EmulatorUser, _user("gmail.users.drafts.create")]
) -> Response:
    return await _create_draft(request, user, upload=False)


@router.post(UP + "/drafts")
async def create_draft_upload(
    request: Request, user: Annotated[EmulatorUser, _user("gmail.users.drafts.create")]
) -> Response:
    return await _create_draft(request, user, upload=True)


async def _update_draft(
    draft_id: str, request: Request, user: EmulatorUser, *, upload: bool
) -> Response:
    meta, raw = await _draft_input(request, upload=upload)
    if raw is None:
        raise GoogleApiError(400, "Missing draft message", reason="invalidArgument")
    message = meta.get("message") or {}
    user.mailbox.update_draft(draft_id, raw, message.get("threadId"))
    return json_response(user.mailbox.render_draft(draft_id))


@router.put(U + "/drafts/{id}")
async def update_draft(
    id: str,
    request: Request,
    user: Annotated[EmulatorUser, _user("gmail.users.drafts.update")],
) -> Response:
    return await _update_draft(id, request, user, upload=False)


@router.put(UP + "/drafts/{id}")
async def update_draft_upload(
    id: str,
    request: Request,
    user: Annotated[EmulatorUser, _user("gmail.users.drafts.update")],
) -> Response:
    return await _update_draft(id, request, user, upload=True)


@router.delete(U + "/drafts/{id}")
async def delete_draft(
    id: str, user: Annotated[EmulatorUser, _user("gmail.users.drafts.delete")]
) -> Response:
    user.mailbox.delete_draft(id)
    return _empty()


async def _send_draft(request: Request, user: EmulatorUser, *, upload: bool) -> Response:
    meta, raw = await _draft_input(request, upload=upload)
    draft_id = meta.get("id")
    if not draft_id:
        raise GoogleApiError(400, "Missing draft id", reason="invalidArgument")
    return json_response(user.mailbox.send_draft(str(draft_id), raw).ref_with_labels())


@router.post(U + "/drafts/send")
async def send_draft(
    request: Request, user: Annotated[EmulatorUser, _user("gmail.users.drafts.send")]
) -> Response:
    return await _send_draft(request, user, upload=False)


@router.post(UP + "/drafts/send")
async def send_draft_upload(
    request: Request, user: Annotated[EmulatorUser, _user("gmail.users.drafts.send")]
) -> Response:
    return await _send_draft(request, user, upload=True)


# --- history -------------------------------------------------------------------------------
@router.get(U + "/history")
async def list_history(
    user: Annotated[EmulatorUser, _user("gmail.users.history.list")],
    startHistoryId: str | None = None,  # noqa: N803
    historyTypes: Annotated[list[str] | None, Query()] = None,  # noqa: N803
    labelId: str | None = None,  # noqa: N803
    pageToken: str | None = None,  # noqa: N803
    maxResults: int = 100,  # noqa: N803
) -> Response:
    if not startHistoryId or not startHistoryId.isdigit():
        raise GoogleApiError(400, "Invalid startHistoryId", reason="invalidArgument")
    for kind in historyTypes or ():
        if kind not in ("messageAdded", "messageDeleted", "labelAdded", "labelRemoved"):
            raise GoogleApiError(400, f"Invalid historyTypes: {kind}", reason="invalidArgument")
    return json_response(
        user.mailbox.list_history(
            int(startHistoryId),
            history_types=historyTypes,
            label_id=labelId,
            page_token=pageToken,
            max_results=_cap(maxResults),
        )
    )
