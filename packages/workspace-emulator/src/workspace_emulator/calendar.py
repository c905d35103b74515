"""Calendar v3 routes over ``calendar_store.CalendarStore``.

Served under ``/calendar/v3`` (the discovery document's ``servicePath``) and also at the
root, because googleapiclient replaces ``rootUrl + servicePath`` by ``api_endpoint`` when one
is given, so a client built with ``api_endpoint=<emulator root>`` calls ``/calendars/...``.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends, Request, Response

from workspace_emulator.calendar_store import parse_rfc3339
from workspace_emulator.errors import GoogleApiError, json_response
from workspace_emulator.oauth import authenticate
from workspace_emulator.quota import api_call
from workspace_emulator.state import EmulatorState, EmulatorUser

# Discovery method ids this module serves (checked against calendar.v3.json by a test).
CLAIMED_METHODS = frozenset(
    {
        "calendar.calendarList.list",
        "calendar.calendarList.get",
        "calendar.calendars.get",
        "calendar.events.list",
        "calendar.events.get",
        "calendar.events.insert",
        "calendar.events.patch",
        "calendar.events.update",
        "calendar.events.delete",
        "calendar.events.instances",
        "calendar.freebusy.query",
        "calendar.events.quickAdd",
        "calendar.events.move",
        "calendar.events.import",
        "calendar.calendars.insert",
        "calendar.calendarList.insert",
    }
)

_BASE = "https://www.googleapis.com/auth/calendar"
READ_SCOPES = frozenset({_BASE, f"{_BASE}.readonly", f"{_BASE}.events", f"{_BASE}.events.readonly"})
WRITE_SCOPES = frozenset({_BASE, f"{_BASE}.events"})
FREEBUSY_SCOPES = READ_SCOPES | {f"{_BASE}.freebusy"}


def invalidate_sync_tokens(state: EmulatorState, email: str) -> None:
    """Fault: every sync token of ``email`` answers 410 ``fullSyncRequired`` from now on."""
    with state.lock:
        state.users[email].calendar.invalidate_sync_tokens()


def _gate(method_id: str) -> list[Any]:
    """Auth, per-user quota, concurrency and injected faults, shared with Gmail."""
    return [Depends(api_call(method_id))]


def _user(request: Request, scopes: frozenset[str]) -> tuple[EmulatorState, EmulatorUser]:
    return request.app.state.emulator, authenticate(request, scopes)


async def _body(request: Request) -> dict[str, Any]:
    try:
        body = await request.json()
    except ValueError:
        raise GoogleApiError(400, "Parse Error", reason="parseError") from None
    if not isinstance(body, dict):
        raise GoogleApiError(400, "Parse Error", reason="parseError")
    return body


def _params(request: Request) -> dict[str, str]:
    return dict(request.query_params)


def _conference_aware(request: Request, body: dict[str, Any]) -> bool:
    """``conferenceDataVersion``: "Version 0 assumes no conference data support and ignores
    conference data in the event's body" (events.insert/patch/update); only 1 writes it."""
    version = request.query_params.get("conferenceDataVersion", "0")
    if version not in ("0", "1"):
        raise GoogleApiError(400, "Invalid conferenceDataVersion.", reason="invalid")
    if version != "1":
        body.pop("conferenceData", None)
    return version == "1"


def _routes(prefix: str) -> APIRouter:
    r = APIRouter(prefix=prefix, tags=["calendar"])

    @r.get("/users/me/calendarList", dependencies=_gate("calendar.calendarList.list"))
    def calendar_list(request: Request) -> Response:
        state, user = _user(request, READ_SCOPES)
        with state.lock:
            items = list(user.calendar.calendars.values())
        return json_response(
            {"kind": "calendar#calendarList", "etag": f'"{user.calendar.seq}"', "items": items}
        )

    @r.get("/users/me/calendarList/{calendar_id}", dependencies=_gate("calendar.calendarList.get"))
    def calendar_list_get(request: Request, calendar_id: str) -> Response:
        state, user = _user(request, READ_SCOPES)
        with state.lock:
            return json_response(user.calendar.calendars[user.calendar.resolve(calendar_id)])

    @r.get("/calendars/{calendar_id}", dependencies=_gate("calendar.calendars.get"))
    def calendars_get(request: Request, calendar_id: str) -> Response:
        state, user = _user(request, READ_SCOPES)
        with state.lock:
            return json_response(user.calendar.calendar_resource(calendar_id))

    @r.get("/calendars/{calendar_id}/events", dependencies=_gate("calendar.events.list"))
    def events_list(request: Request, calendar_id: str) -> Response:
        state, user = _user(request, READ_SCOPES)
        with state.lock:
            return json_response(user.calendar.list_events(calendar_id, _params(request)))

    @r.post("/calendars/{calendar_id}/events", dependencies=_gate("calendar.events.insert"))
    async def events_insert(request: Request, calendar_id: str) -> Response:
        state, user = _user(request, WRITE_SCOPES)
        body = await _body(request)
        _conference_aware(request, body)
        # sendUpdates is accepted and ignored: the emulator delivers no invitation mail.
        with state.lock:
            return json_response(user.calendar.insert_event(calendar_id, body))

    @r.get("/calendars/{calendar_id}/events/{event_id}", dependencies=_gate("calendar.events.get"))
    def events_get(request: Request, calendar_id: str, event_id: str) -> Response:
        state, user = _user(request, READ_SCOPES)
        with state.lock:
            return json_response(user.calendar.get_event(calendar_id, event_id))

    @r.patch(
        "/calendars/{calendar_id}/events/{event_id}", dependencies=_gate("calendar.events.patch")
    )
    async def events_patch(request: Request, calendar_id: str, event_id: str) -> Response:
        state, user = _user(request, WRITE_SCOPES)
        body = await _body(request)
        _conference_aware(request, body)
        with state.lock:
            return json_response(user.calendar.patch_event(calendar_id, event_id, body))

    @r.put(
        "/calendars/{calendar_id}/events/{event_id}", dependencies=_gate("calendar.events.update")
    )
    async def events_update(request: Request, calendar_id: str, event_id: str) -> Response:
        state, user = _user(request, WRITE_SCOPES)
        body = await _body(request)
        aware = _conference_aware(request, body)
        with state.lock:
            return json_response(
                user.calendar.patch_event(
                    calendar_id,
                    event_id,
                    body,
                    replace=True,
                    preserve=() if aware else ("conferenceData",),
                )
            )

    @r.delete(
        "/calendars/{calendar_id}/events/{event_id}", dependencies=_gate("calendar.events.delete")
    )
    def events_delete(request: Request, calendar_id: str, event_id: str) -> Response:
        state, user = _user(request, WRITE_SCOPES)
        with state.lock:
            user.calendar.delete_event(calendar_id, event_id)
        return Response(status_code=204)

    @r.get(
        "/calendars/{calendar_id}/events/{event_id}/instances",
        dependencies=_gate("calendar.events.instances"),
    )
    def events_instances(request: Request, calendar_id: str, event_id: str) -> Response:
        state, user = _user(request, READ_SCOPES)
        with state.lock:
            return json_response(user.calendar.instances(calendar_id, event_id, _params(request)))

    @r.post(
        "/calendars/{calendar_id}/events/quickAdd", dependencies=_gate("calendar.events.quickAdd")
    )
    def events_quick_add(request: Request, calendar_id: str, text: str = "") -> Response:
        state, user = _user(request, WRITE_SCOPES)
        with state.lock:
            return json_response(user.calendar.quick_add(calendar_id, text))

    @r.post("/calendars/{calendar_id}/events/import", dependencies=_gate("calendar.events.import"))
    async def events_import(request: Request, calendar_id: str) -> Response:
        state, user = _user(request, WRITE_SCOPES)
        body = await _body(request)
        _conference_aware(request, body)
        with state.lock:
            return json_response(user.calendar.import_event(calendar_id, body))

    @r.post(
        "/calendars/{calendar_id}/events/{event_id}/move",
        dependencies=_gate("calendar.events.move"),
    )
    def events_move(
        request: Request, calendar_id: str, event_id: str, destination: str = ""
    ) -> Response:
        state, user = _user(request, WRITE_SCOPES)
        if not destination:
            raise GoogleApiError(400, "Required parameter: destination", reason="required")
        with state.lock:
            return json_response(user.calendar.move(calendar_id, event_id, destination))

    @r.post("/calendars", dependencies=_gate("calendar.calendars.insert"))
    async def calendars_insert(request: Request) -> Response:
        state, user = _user(request, frozenset({_BASE}))
        body = await _body(request)
        with state.lock:
            return json_response(user.calendar.insert_calendar(body))

    @r.post("/users/me/calendarList", dependencies=_gate("calendar.calendarList.insert"))
    async def calendar_list_insert(request: Request) -> Response:
        state, user = _user(request, frozenset({_BASE}))
        body = await _body(request)
        with state.lock:
            return json_response(user.calendar.insert_calendar_list(body))

    @r.post("/freeBusy", dependencies=_gate("calendar.freebusy.query"))
    async def freebusy_query(request: Request) -> Response:
        state, user = _user(request, FREEBUSY_SCOPES)
        body = await _body(request)
        if not body.get("timeMin") or not body.get("timeMax"):
            raise GoogleApiError(400, "Missing timeMin or timeMax.", reason="required")
        time_min = parse_rfc3339(str(body["timeMin"]), name="timeMin")
        time_max = parse_rfc3339(str(body["timeMax"]), name="timeMax")
        if time_max <= time_min:
            raise GoogleApiError(400, "The specified time range is empty.", reason="timeRangeEmpty")
        ids = [str(item.get("id", "")) for item in body.get("items") or []]
        with state.lock:
            return json_response(user.calendar.freebusy(ids, time_min, time_max))

    return r


router = APIRouter()
router.include_router(_routes("/calendar/v3"))
router.include_router(_routes(""))


@router.post("/emulator/calendar/{email}/invalidate_sync_tokens", tags=["emulator"])
def control_invalidate(request: Request, email: str) -> dict[str, str]:
    state: EmulatorState = request.app.state.emulator
    if email not in state.users:
        raise GoogleApiError(404, "No such user.", reason="notFound")
    invalidate_sync_tokens(state, email)
    return {"status": "ok"}
