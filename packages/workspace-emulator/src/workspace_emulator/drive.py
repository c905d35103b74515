"""Drive v3 routes over ``drive_store.DriveStore``, plus control routes to change files.

Served under ``/drive/v3`` (the discovery ``servicePath``) and at the root, for clients built
with ``api_endpoint=<emulator root>`` (googleapiclient then drops the servicePath).
Responses honour ``fields`` and default to Drive's minimal field sets, as Google does.
"""

from __future__ import annotations

import csv
import io
import json
from typing import Any

from fastapi import APIRouter, Depends, Request, Response
from pydantic import BaseModel, Field

from workspace_emulator.drive_store import DOC, FOLDER, SHEET, select_fields
from workspace_emulator.errors import GoogleApiError, json_response
from workspace_emulator.gmail import _upload as read_upload
from workspace_emulator.oauth import authenticate
from workspace_emulator.quota import api_call
from workspace_emulator.state import EmulatorState, EmulatorUser

# Discovery method ids this module serves (checked against drive.v3.json by a test).
CLAIMED_METHODS = frozenset(
    {
        "drive.files.list",
        "drive.files.get",
        "drive.files.export",
        "drive.changes.getStartPageToken",
        "drive.changes.list",
        "drive.files.create",
        "drive.files.update",
        "drive.files.delete",
        "drive.files.copy",
        "drive.permissions.list",
        "drive.permissions.get",
        "drive.permissions.create",
        "drive.permissions.delete",
        "drive.about.get",
    }
)

_BASE = "https://www.googleapis.com/auth/drive"
CONTENT_SCOPES = frozenset({_BASE, f"{_BASE}.readonly", f"{_BASE}.file"})
METADATA_SCOPES = CONTENT_SCOPES | {f"{_BASE}.metadata", f"{_BASE}.metadata.readonly"}

# Drive v3 answers with these fields unless the request names others.
DEFAULT_FILE_FIELDS = "kind,id,name,mimeType"
DEFAULT_LIST_FIELDS = "kind,incompleteSearch,nextPageToken,files(kind,id,name,mimeType)"
DEFAULT_CHANGES_FIELDS = (
    "kind,nextPageToken,newStartPageToken,"
    "changes(kind,type,changeType,time,removed,fileId,file(kind,id,name,mimeType))"
)


def _gate(method_id: str) -> list[Any]:
    """Auth, per-user quota, concurrency and injected faults, shared with Gmail."""
    return [Depends(api_call(method_id))]


def _user(request: Request, scopes: frozenset[str]) -> tuple[EmulatorState, EmulatorUser]:
    return request.app.state.emulator, authenticate(request, scopes)


def _int(request: Request, name: str) -> int | None:
    raw = request.query_params.get(name)
    if raw is None:
        return None
    if not raw.isdigit() or int(raw) < 1:
        raise GoogleApiError(400, f"Invalid value for: {name}", reason="invalid")
    return int(raw)


def _flag(request: Request, name: str) -> bool:
    return request.query_params.get(name, "false").lower() == "true"


def _routes(prefix: str) -> APIRouter:
    r = APIRouter(prefix=prefix, tags=["drive"])

    @r.get("/files", dependencies=_gate("drive.files.list"))
    def files_list(request: Request) -> Response:
        state, user = _user(request, METADATA_SCOPES)
        q = request.query_params
        with state.lock:
            out = user.drive.list_files(
                q=q.get("q"),
                page_size=_int(request, "pageSize"),
                page_token=q.get("pageToken"),
                order_by=q.get("orderBy"),
                include_all_drives=_flag(request, "includeItemsFromAllDrives"),
            )
        return json_response(select_fields(out, q.get("fields") or DEFAULT_LIST_FIELDS))

    @r.get("/files/{file_id}", dependencies=_gate("drive.files.get"))
    def files_get(request: Request, file_id: str) -> Response:
        q = request.query_params
        if q.get("alt") == "media":
            state, user = _user(request, CONTENT_SCOPES)
            with state.lock:
                data, mime = user.drive.media(file_id)
            return Response(data, media_type=mime)
        state, user = _user(request, METADATA_SCOPES)
        with state.lock:
            meta = user.drive.get_file(file_id)
        return json_response(select_fields(meta, q.get("fields") or DEFAULT_FILE_FIELDS))

    @r.get("/files/{file_id}/export", dependencies=_gate("drive.files.export"))
    def files_export(request: Request, file_id: str) -> Response:
        state, user = _user(request, CONTENT_SCOPES)
        mime = request.query_params.get("mimeType")
        if not mime:
            raise GoogleApiError(400, "Required parameter: mimeType", reason="required")
        with state.lock:
            data = user.drive.export(file_id, mime)
        charset = "; charset=utf-8" if mime.startswith("text/") else ""
        return Response(data, media_type=mime + charset)

    @r.get("/changes/startPageToken", dependencies=_gate("drive.changes.getStartPageToken"))
    def changes_start(request: Request) -> Response:
        state, user = _user(request, METADATA_SCOPES)
        with state.lock:
            token = user.drive.start_page_token()
        return json_response({"kind": "drive#startPageToken", "startPageToken": token})

    @r.get("/changes", dependencies=_gate("drive.changes.list"))
    def changes_list(request: Request) -> Response:
        state, user = _user(request, METADATA_SCOPES)
        q = request.query_params
        token = q.get("pageToken")
        if not token:
            raise GoogleApiError(400, "Required parameter: pageToken", reason="required")
        with state.lock:
            out = user.drive.list_changes(
                token,
                page_size=_int(request, "pageSize"),
                include_removed=q.get("includeRemoved", "true").lower() != "false",
                include_all_drives=_flag(request, "includeItemsFromAllDrives"),
            )
        return json_response(select_fields(out, q.get("fields") or DEFAULT_CHANGES_FIELDS))

    return r


WRITE_SCOPES = frozenset({_BASE, f"{_BASE}.file"})
NATIVE = {DOC: "text/plain", SHEET: "text/csv"}


async def _json_body(request: Request) -> dict[str, Any]:
    raw = await request.body()
    if not raw.strip():
        return {}
    try:
        data = json.loads(raw)
    except ValueError:
        raise GoogleApiError(400, "Invalid JSON payload received.", reason="parseError") from None
    if not isinstance(data, dict):
        raise GoogleApiError(400, "Invalid JSON payload received.", reason="parseError")
    return data


def _content(meta: dict[str, Any], media: bytes | None) -> dict[str, Any]:
    """Keyword arguments for the store: a Doc/Sheet converts uploaded text or CSV (Drive's
    import conversion); anything else keeps the bytes."""
    mime = str(meta.get("mimeType") or "application/octet-stream")
    if media is None:
        return {}
    if mime == DOC:
        return {"doc_text": media.decode("utf-8", "replace")}
    if mime == SHEET:
        return {"sheet_rows": list(csv.reader(io.StringIO(media.decode("utf-8", "replace"))))}
    return {"content": media}


def _write_routes(prefix: str, upload_prefix: str) -> APIRouter:
    r = APIRouter(tags=["drive"])

    async def create(request: Request, *, upload: bool) -> Response:
        state, user = _user(request, WRITE_SCOPES)
        if upload:
            meta, media = await read_upload(request)
        else:
            meta, media = await _json_body(request), None
        name = str(meta.get("name") or "Untitled")
        mime = str(meta.get("mimeType") or ("application/octet-stream" if media else FOLDER))
        with state.lock:
            out = user.drive.add_file(
                name,
                mime,
                parents=list(meta.get("parents") or ["root"]),
                description=meta.get("description"),
                starred=bool(meta.get("starred", False)),
                properties=meta.get("properties"),
                **_content({**meta, "mimeType": mime}, media if media is not None else b""),
            )
        fields = request.query_params.get("fields") or DEFAULT_FILE_FIELDS
        return json_response(select_fields(out, fields))

    @r.post(prefix + "/files", dependencies=_gate("drive.files.create"))
    async def files_create(request: Request) -> Response:
        return await create(request, upload=False)

    @r.post(upload_prefix + "/files", dependencies=_gate("drive.files.create"))
    async def files_create_upload(request: Request) -> Response:
        return await create(request, upload=True)

    async def update(request: Request, file_id: str, *, upload: bool) -> Response:
        state, user = _user(request, WRITE_SCOPES)
        if upload:
            meta, media = await read_upload(request)
        else:
            meta, media = await _json_body(request), None
        q = request.query_params
        with state.lock:
            current = user.drive.get_file(file_id)
            parents = list(current.get("parents") or [])
            if q.get("addParents") or q.get("removeParents"):
                removed = set((q.get("removeParents") or "").split(","))
                parents = [p for p in parents if p not in removed]
                parents += [p for p in (q.get("addParents") or "").split(",") if p]
                meta = {**meta, "parents": parents}
            if media is not None:
                user.drive.update_file(file_id, **_content(current, media))
            out = user.drive.set_meta(file_id, meta)
        fields = q.get("fields") or DEFAULT_FILE_FIELDS
        return json_response(select_fields(out, fields))

    @r.patch(prefix + "/files/{file_id}", dependencies=_gate("drive.files.update"))
    async def files_update(request: Request, file_id: str) -> Response:
        return await update(request, file_id, upload=False)

    @r.patch(upload_prefix + "/files/{file_id}", dependencies=_gate("drive.files.update"))
    async def files_update_upload(request: Request, file_id: str) -> Response:
        return await update(request, file_id, upload=True)

    @r.delete(prefix + "/files/{file_id}", dependencies=_gate("drive.files.delete"))
    def files_delete(request: Request, file_id: str) -> Response:
        state, user = _user(request, WRITE_SCOPES)
        with state.lock:
            user.drive.delete_file(file_id)
        return Response(status_code=204)

    @r.post(prefix + "/files/{file_id}/copy", dependencies=_gate("drive.files.copy"))
    async def files_copy(request: Request, file_id: str) -> Response:
        state, user = _user(request, WRITE_SCOPES)
        body = await _json_body(request)
        with state.lock:
            out = user.drive.copy_file(file_id, body)
        fields = request.query_params.get("fields") or DEFAULT_FILE_FIELDS
        return json_response(select_fields(out, fields))

    @r.get(prefix + "/files/{file_id}/permissions", dependencies=_gate("drive.permissions.list"))
    def permissions_list(request: Request, file_id: str) -> Response:
        state, user = _user(request, METADATA_SCOPES)
        with state.lock:
            perms = user.drive.permissions(file_id)
        return json_response({"kind": "drive#permissionList", "permissions": perms})

    @r.get(
        prefix + "/files/{file_id}/permissions/{permission_id}",
        dependencies=_gate("drive.permissions.get"),
    )
    def permissions_get(request: Request, file_id: str, permission_id: str) -> Response:
        state, user = _user(request, METADATA_SCOPES)
        with state.lock:
            found = [p for p in user.drive.permissions(file_id) if p["id"] == permission_id]
        if not found:
            raise GoogleApiError(404, f"Permission not found: {permission_id}.", reason="notFound")
        return json_response(found[0])

    @r.post(prefix + "/files/{file_id}/permissions", dependencies=_gate("drive.permissions.create"))
    async def permissions_create(request: Request, file_id: str) -> Response:
        state, user = _user(request, WRITE_SCOPES)
        body = await _json_body(request)
        with state.lock:
            return json_response(user.drive.add_permission(file_id, body))

    @r.delete(
        prefix + "/files/{file_id}/permissions/{permission_id}",
        dependencies=_gate("drive.permissions.delete"),
    )
    def permissions_delete(request: Request, file_id: str, permission_id: str) -> Response:
        state, user = _user(request, WRITE_SCOPES)
        with state.lock:
            user.drive.remove_permission(file_id, permission_id)
        return Response(status_code=204)

    @r.get(prefix + "/about", dependencies=_gate("drive.about.get"))
    def about_get(request: Request) -> Response:
        state, user = _user(request, METADATA_SCOPES)
        fields = request.query_params.get("fields")
        if not fields:
            # Drive v3: "The 'fields' parameter is required for this method."
            raise GoogleApiError(
                400, "The 'fields' parameter is required for this method.", reason="required"
            )
        with state.lock:
            return json_response(select_fields(user.drive.about(), fields))

    return r


router = APIRouter()
router.include_router(_write_routes("/drive/v3", "/upload/drive/v3"))
router.include_router(_write_routes("", "/upload"))
router.include_router(_routes("/drive/v3"))
router.include_router(_routes(""))


class FileIn(BaseModel):
    name: str
    mimeType: str = "text/plain"  # noqa: N815 -- Drive's own field name
    content: str | None = None
    doc_text: str | None = None
    sheet_rows: list[list[str]] | None = None
    parents: list[str] = Field(default_factory=lambda: ["root"])
    description: str | None = None


class FileChange(BaseModel):
    name: str | None = None
    content: str | None = None
    doc_text: str | None = None
    sheet_rows: list[list[str]] | None = None
    description: str | None = None
    trashed: bool | None = None


def _drive_of(request: Request, email: str) -> tuple[EmulatorState, EmulatorUser]:
    state: EmulatorState = request.app.state.emulator
    user = state.users.get(email)
    if user is None:
        raise GoogleApiError(404, "No such user.", reason="notFound")
    return state, user


@router.post("/emulator/drive/{email}/files", tags=["emulator"])
def control_add(request: Request, email: str, body: FileIn) -> dict[str, Any]:
    state, user = _drive_of(request, email)
    with state.lock:
        return user.drive.add_file(
            body.name,
            body.mimeType,
            content=body.content,
            doc_text=body.doc_text,
            sheet_rows=body.sheet_rows,
            parents=body.parents,
            description=body.description,
        )


@router.patch("/emulator/drive/{email}/files/{file_id}", tags=["emulator"])
def control_change(request: Request, email: str, file_id: str, body: FileChange) -> dict[str, Any]:
    state, user = _drive_of(request, email)
    with state.lock:
        out = user.drive.get_file(file_id)
        if any(v is not None for k, v in body.model_dump().items() if k != "trashed"):
            out = user.drive.update_file(
                file_id,
                name=body.name,
                content=body.content,
                doc_text=body.doc_text,
                sheet_rows=body.sheet_rows,
                description=body.description,
            )
        if body.trashed is not None:
            out = user.drive.trash_file(file_id, trashed=body.trashed)
        return out


@router.delete("/emulator/drive/{email}/files/{file_id}", tags=["emulator"])
def control_delete(request: Request, email: str, file_id: str) -> Response:
    state, user = _drive_of(request, email)
    with state.lock:
        user.drive.delete_file(file_id)
    return Response(status_code=204)
