"""Gmail ``users.settings.sendAs`` (the user's addresses and signature) and
``users.settings.filters``, as the Gmail v1 reference shapes them.

The primary send-as address exists from the start (Gmail always has one: the account's
address, ``isPrimary`` and ``isDefault``); its ``signature`` is HTML, as Gmail stores it. A
workspace folder sets it with ``[user] signature``. Filters are kept but not applied to
incoming mail (the emulator does not run them; the reference only promises storage here).
State: ``Mailbox.settings`` (one dict per mailbox, guarded by the mailbox lock).
"""

from __future__ import annotations

import hashlib
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request
from starlette.responses import Response

from workspace_emulator.errors import GoogleApiError, json_response
from workspace_emulator.quota import api_call
from workspace_emulator.state import EmulatorUser

router = APIRouter(tags=["gmail"])
S = "/gmail/v1/users/{userId}/settings"

CLAIMED_METHODS = frozenset(
    {
        "gmail.users.settings.sendAs.list",
        "gmail.users.settings.sendAs.get",
        "gmail.users.settings.sendAs.patch",
        "gmail.users.settings.sendAs.update",
        "gmail.users.settings.filters.list",
        "gmail.users.settings.filters.get",
        "gmail.users.settings.filters.create",
        "gmail.users.settings.filters.delete",
    }
)
_SEND_AS_WRITABLE = ("displayName", "replyToAddress", "signature", "isDefault", "treatAsAlias")


def _user(method_id: str) -> Any:
    return Depends(api_call(method_id))


def settings_of(user: EmulatorUser) -> dict[str, Any]:
    """The user's settings, created on first use with the primary send-as address."""
    mailbox = user.mailbox
    with mailbox.lock:
        if not mailbox.settings:
            mailbox.settings["sendAs"] = {
                mailbox.email: {
                    "sendAsEmail": mailbox.email,
                    "displayName": user.name,
                    "replyToAddress": "",
                    "signature": "",
                    "isPrimary": True,
                    "isDefault": True,
                    "treatAsAlias": False,
                    "verificationStatus": "accepted",
                }
            }
            mailbox.settings["filters"] = {}
        return mailbox.settings


def set_signature(user: EmulatorUser, signature: str) -> None:
    """Seed the primary address's signature (workspace folders, tests)."""
    primary = settings_of(user)["sendAs"][user.mailbox.email]
    primary["signature"] = signature


def _send_as(user: EmulatorUser, email: str) -> dict[str, Any]:
    found: dict[str, Any] | None = settings_of(user)["sendAs"].get(email)
    if found is None:
        raise GoogleApiError(404, "Requested entity was not found.", reason="notFound")
    return found


async def _json(request: Request) -> dict[str, Any]:
    try:
        body = await request.json()
    except ValueError:
        raise GoogleApiError(400, "Invalid JSON payload received.", reason="parseError") from None
    if not isinstance(body, dict):
        raise GoogleApiError(400, "Invalid JSON payload received.", reason="parseError")
    return body


@router.get(S + "/sendAs")
async def send_as_list(
    user: Annotated[EmulatorUser, _user("gmail.users.settings.sendAs.list")],
) -> Response:
    with user.mailbox.lock:
        return json_response({"sendAs": list(settings_of(user)["sendAs"].values())})


@router.get(S + "/sendAs/{sendAsEmail}")
async def send_as_get(
    sendAsEmail: str,  # noqa: N803  # Google's name
    user: Annotated[EmulatorUser, _user("gmail.users.settings.sendAs.get")],
) -> Response:
    with user.mailbox.lock:
        return json_response(_send_as(user, sendAsEmail))


async def _write_send_as(
    request: Request, user: EmulatorUser, email: str, *, replace: bool
) -> Response:
    body = await _json(request)
    with user.mailbox.lock:
        entry = _send_as(user, email)
        if replace:
            for key in ("displayName", "replyToAddress", "signature"):
                entry[key] = ""
        for key in _SEND_AS_WRITABLE:
            if key in body:
                entry[key] = body[key]
        return json_response(entry)


@router.patch(S + "/sendAs/{sendAsEmail}")
async def send_as_patch(
    sendAsEmail: str,  # noqa: N803
    request: Request,
    user: Annotated[EmulatorUser, _user("gmail.users.settings.sendAs.patch")],
) -> Response:
    return await _write_send_as(request, user, sendAsEmail, replace=False)


@router.put(S + "/sendAs/{sendAsEmail}")
async def send_as_update(
    sendAsEmail: str,  # noqa: N803
    request: Request,
    user: Annotated[EmulatorUser, _user("gmail.users.settings.sendAs.update")],
) -> Response:
    return await _write_send_as(request, user, sendAsEmail, replace=True)


@router.get(S + "/filters")
async def filters_list(
    user: Annotated[EmulatorUser, _user("gmail.users.settings.filters.list")],
) -> Response:
    with user.mailbox.lock:
        filters = list(settings_of(user)["filters"].values())
    return json_response({"filter": filters} if filters else {})


@router.get(S + "/filters/{id}")
async def filters_get(
    id: str, user: Annotated[EmulatorUser, _user("gmail.users.settings.filters.get")]
) -> Response:
    with user.mailbox.lock:
        found = settings_of(user)["filters"].get(id)
    if found is None:
        raise GoogleApiError(404, "Filter not found", reason="notFound")
    return json_response(found)


@router.post(S + "/filters")
async def filters_create(
    request: Request,
    user: Annotated[EmulatorUser, _user("gmail.users.settings.filters.create")],
) -> Response:
    body = await _json(request)
    criteria, action = body.get("criteria"), body.get("action")
    if not isinstance(criteria, dict) or not criteria or not isinstance(action, dict):
        raise GoogleApiError(
            400, "Filter must have criteria and an action.", reason="invalidArgument"
        )
    with user.mailbox.lock:
        for label in [*action.get("addLabelIds", []), *action.get("removeLabelIds", [])]:
            if label not in user.mailbox.labels:
                raise GoogleApiError(400, f"Invalid label: {label}", reason="invalidArgument")
        filters = settings_of(user)["filters"]
        seed = f"{len(filters)}:{sorted(criteria.items())}:{sorted(action.items())}"
        filter_id = "ANe1Bm" + hashlib.sha256(seed.encode()).hexdigest()[:24]
        filters[filter_id] = {"id": filter_id, "criteria": criteria, "action": action}
        return json_response(filters[filter_id])


@router.delete(S + "/filters/{id}")
async def filters_delete(
    id: str, user: Annotated[EmulatorUser, _user("gmail.users.settings.filters.delete")]
) -> Response:
    with user.mailbox.lock:
        if settings_of(user)["filters"].pop(id, None) is None:
            raise GoogleApiError(404, "Filter not found", reason="notFound")
    return Response(status_code=204)
