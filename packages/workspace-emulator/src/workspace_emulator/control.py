"""The emulator's control API (``/emulator/...``) and its typed Python client.

Tests, the demo and the benchmarks use it to play the world around the user's mailbox:
create users and mint tokens, load real mail, deliver new mail (INBOX+UNREAD, with history
and push), act as the user in the Gmail UI (relabel, trash, delete), set faults and quota
modes, configure Pub/Sub push, expire history or tokens, read stats and reset. There is no
auth here: the emulator is a local test double and must never face a network.
"""

from __future__ import annotations

import asyncio
import base64
import secrets
import time
from typing import Annotated, Any

import httpx
from fastapi import APIRouter, Body, Request
from starlette.responses import Response

from workspace_emulator import faults as faults_mod
from workspace_emulator.errors import GoogleApiError, json_response
from workspace_emulator.faults import FaultConfig, fault_injector
from workspace_emulator.gmail_store import b64url_decode
from workspace_emulator.loader import load_path
from workspace_emulator.push import TopicConfig, push_hub
from workspace_emulator.quota import QuotaConfig, quota_book
from workspace_emulator.state import EmulatorState, EmulatorUser, TokenRecord

router = APIRouter(prefix="/emulator", tags=["emulator control"])
JsonBody = Annotated[dict[str, Any], Body()]
DEFAULT_SCOPES = [
    "openid",
    "email",
    "profile",
    "https://www.googleapis.com/auth/gmail.modify",
    "https://www.googleapis.com/auth/gmail.compose",
    "https://www.googleapis.com/auth/calendar",
    "https://www.googleapis.com/auth/drive.readonly",
]


def _state(request: Request) -> EmulatorState:
    state: EmulatorState = request.app.state.emulator
    return state


def _user(state: EmulatorState, email: str) -> EmulatorUser:
    user = state.users.get(email)
    if user is None:
        raise GoogleApiError(404, f"Unknown emulator user {email}", reason="notFound")
    return user


def mint_access_token(
    state: EmulatorState, email: str, *, scopes: list[str] | None = None, ttl: float = 3600.0
) -> str:
    """An access token for ``email`` without the OAuth flow (benchmarks, tests)."""
    token = "ya29.emu-" + secrets.token_urlsafe(24)
    with state.lock:
        state.access_tokens[token] = TokenRecord(
            token=token,
            email=email,
            client_id="emulator-control",
            scopes=list(scopes or DEFAULT_SCOPES),
            expires_at=time.time() + ttl,
        )
    return token


@router.post("/users")
async def create_user(request: Request, body: JsonBody) -> Response:
    user = _state(request).add_user(str(body["email"]), name=body.get("name"))
    return json_response({"email": user.email, "sub": user.sub, "name": user.name})


@router.get("/users")
async def list_users(request: Request) -> Response:
    state = _state(request)
    with state.lock:
        return json_response(
            {"users": [{"email": u.email, "sub": u.sub} for u in state.users.values()]}
        )


@router.post("/users/{email}/tokens")
async def create_token(request: Request, email: str, body: JsonBody) -> Response:
    state = _state(request)
    _user(state, email)
    ttl = float(body.get("ttl", 3600))
    token = mint_access_token(state, email, scopes=body.get("scopes"), ttl=ttl)
    return json_response({"access_token": token, "expires_in": int(ttl), "token_type": "Bearer"})


@router.post("/users/{email}/load")
async def load(request: Request, email: str, body: JsonBody) -> Response:
    user = _user(_state(request), email)
    try:
        result = load_path(
            user.mailbox,
            str(body["path"]),
            labels=body.get("labels") or ("INBOX",),
            spam_folders=bool(body.get("spam_folders", True)),
            unread=bool(body.get("unread", True)),
            recent_days=body.get("recent_days"),
            limit=body.get("limit"),
            seed=int(body.get("seed", 0)),
            warm=bool(body.get("warm", True)),
        )
    except FileNotFoundError as exc:
        raise GoogleApiError(400, str(exc), reason="invalidArgument") from exc
    return json_response(result.to_dict())


@router.post("/users/{email}/deliver")
async def deliver(request: Request, email: str, body: JsonBody) -> Response:
    """New mail arrives: INBOX + UNREAD (or ``labels``), now, history and push fire."""
    user = _user(_state(request), email)
    raw = b64url_decode(str(body["raw"]))
    labels = body.get("labels") or ["INBOX", "UNREAD"]
    msg = user.mailbox.add_message(raw, label_ids=labels, thread_id=body.get("threadId"))
    return json_response(msg.ref_with_labels())


@router.post("/users/{email}/messages/{message_id}/modify")
async def ui_modify(request: Request, email: str, message_id: str, body: JsonBody) -> Response:
    user = _user(_state(request), email)
    msg = user.mailbox.modify(message_id, body.get("add") or (), body.get("remove") or ())
    return json_response(msg.ref_with_labels())


@router.post("/users/{email}/messages/{message_id}/trash")
async def ui_trash(request: Request, email: str, message_id: str) -> Response:
    return json_response(_user(_state(request), email).mailbox.trash(message_id).ref_with_labels())


@router.delete("/users/{email}/messages/{message_id}")
async def ui_delete(request: Request, email: str, message_id: str) -> Response:
    _user(_state(request), email).mailbox.delete(message_id)
    return Response(status_code=204)


@router.get("/users/{email}/snapshot")
async def snapshot(request: Request, email: str) -> Response:
    """Every message's thread and labels: what a correct sync must mirror exactly."""
    mailbox = _user(_state(request), email).mailbox
    with mailbox.lock:
        return json_response(
            {
                "historyId": str(mailbox.history_id),
                "messages": {
                    m.id: {"threadId": m.thread_id, "labelIds": sorted(m.label_ids)}
                    for m in mailbox.messages.values()
                },
                "labels": {label.id: label.name for label in mailbox.labels.values()},
            }
        )


@router.post("/users/{email}/expire-history")
async def expire_history(request: Request, email: str) -> Response:
    return json_response({"historyId": str(faults_mod.expire_history(_state(request), email))})


@router.post("/users/{email}/expire-tokens")
async def expire_tokens(request: Request, email: str) -> Response:
    return json_response({"expired": faults_mod.expire_access_tokens(_state(request), email)})


@router.post("/users/{email}/revoke-tokens")
async def revoke_tokens(request: Request, email: str) -> Response:
    faults_mod.revoke_refresh_tokens(_state(request), email)
    return json_response({"revoked": True})


@router.put("/users/{email}/history-retention")
async def history_retention(request: Request, email: str, body: JsonBody) -> Response:
    mailbox = _user(_state(request), email).mailbox
    with mailbox.lock:
        mailbox.history_max_records = body.get("max_records")
        mailbox.history_max_age_s = body.get("max_age_s")
        mailbox._prune_history()
    return json_response({"floor": str(mailbox.history_floor)})


@router.put("/faults")
async def set_faults(request: Request, body: JsonBody) -> Response:
    try:
        config = FaultConfig.from_dict(body)
    except TypeError as exc:
        raise GoogleApiError(400, f"bad fault config: {exc}", reason="invalidArgument") from exc
    fault_injector(_state(request)).configure(config)
    return json_response(config.to_dict())


@router.get("/faults")
async def get_faults(request: Request) -> Response:
    return json_response(fault_injector(_state(request)).config.to_dict())


@router.put("/quota")
async def set_quota(request: Request, body: JsonBody) -> Response:
    try:
        config = QuotaConfig(**{k: v for k, v in body.items() if k != "reset_stats"})
    except (TypeError, ValueError) as exc:
        raise GoogleApiError(400, f"bad quota config: {exc}", reason="invalidArgument") from exc
    book = quota_book(_state(request))
    book.configure(config)
    if body.get("reset_stats"):
        book.reset_stats()
    return json_response(book.stats())


@router.put("/push")
async def configure_push(request: Request, body: JsonBody) -> Response:
    try:
        config = TopicConfig(**body)
    except TypeError as exc:
        raise GoogleApiError(400, f"bad push config: {exc}", reason="invalidArgument") from exc
    push_hub(_state(request)).configure_topic(config)
    return json_response({"topic": config.topic, "subscription": config.subscription})


@router.post("/push/flush")
async def flush_push(request: Request) -> Response:
    hub = push_hub(_state(request))
    done = await asyncio.to_thread(hub.flush, 30.0)
    return json_response({"flushed": done})


@router.get("/stats")
async def stats(request: Request) -> Response:
    state = _state(request)
    with state.lock:
        mailboxes = {
            u.email: {
                "messages": len(u.mailbox.messages),
                "threads": len(u.mailbox.threads),
                "historyId": str(u.mailbox.history_id),
                "history_records": len(u.mailbox.history),
            }
            for u in state.users.values()
        }
    return json_response(
        {
            "quota": quota_book(state).stats(),
            "push": push_hub(state).to_dict(),
            "faults": fault_injector(state).stats(),
            "mailboxes": mailboxes,
        }
    )


@router.post("/reset")
async def reset(request: Request) -> Response:
    """Forget users, tokens, faults, quotas and push config (the signing key stays)."""
    state = _state(request)
    with state.lock:
        hub = state.extras.get("push")
        key = state.extras.get("signing_key")
        state.users.clear()
        state.access_tokens.clear()
        state.extras.clear()
        if key is not None:
            state.extras["signing_key"] = key
    if hub is not None:
        # Outside the lock: the delivery thread may need it to finish its current push.
        await asyncio.to_thread(hub.close)
    return Response(status_code=204)


class EmulatorControl:
    """Typed client of the control API (sync httpx), for tests, the demo and benchmarks."""

    def __init__(self, base_url: str, *, timeout: float = 60.0) -> None:
        self.base_url = base_url.rstrip("/")
        self._http = httpx.Client(base_url=self.base_url + "/emulator", timeout=timeout)

    def close(self) -> None:
        self._http.close()

    def __enter__(self) -> EmulatorControl:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _call(self, method: str, path: str, json: Any = None) -> Any:
        resp = self._http.request(method, path, json=json)
        if resp.status_code >= 400:
            raise GoogleApiError(resp.status_code, resp.text)
        return resp.json() if resp.content else None

    def create_user(self, email: str, name: str | None = None) -> dict[str, Any]:
        result: dict[str, Any] = self._call("POST", "/users", {"email": email, "name": name})
        return result

    def token(self, email: str, *, scopes: list[str] | None = None, ttl: float = 3600) -> str:
        body: dict[str, Any] = {"ttl": ttl}
        if scopes is not None:
            body["scopes"] = scopes
        return str(self._call("POST", f"/users/{email}/tokens", body)["access_token"])

    def load(
        self,
        email: str,
        path: str,
        *,
        recent_days: float | None = None,
        limit: int | None = None,
        spam_folders: bool = True,
        unread: bool = True,
        labels: list[str] | None = None,
    ) -> dict[str, Any]:
        body = {
            "path": path,
            "recent_days": recent_days,
            "limit": limit,
            "spam_folders": spam_folders,
            "unread": unread,
            "labels": labels,
        }
        result: dict[str, Any] = self._call("POST", f"/users/{email}/load", body)
        return result

    def deliver(
        self,
        email: str,
        raw: bytes,
        *,
        labels: list[str] | None = None,
        thread_id: str | None = None,
    ) -> dict[str, Any]:
        body = {
            "raw": base64.urlsafe_b64encode(raw).decode(),
            "labels": labels,
            "threadId": thread_id,
        }
        result: dict[str, Any] = self._call("POST", f"/users/{email}/deliver", body)
        return result

    def modify(
        self,
        email: str,
        message_id: str,
        *,
        add: list[str] | None = None,
        remove: list[str] | None = None,
    ) -> dict[str, Any]:
        result: dict[str, Any] = self._call(
            "POST", f"/users/{email}/messages/{message_id}/modify", {"add": add, "remove": remove}
        )
        return result

    def trash(self, email: str, message_id: str) -> dict[str, Any]:
        result: dict[str, Any] = self._call("POST", f"/users/{email}/messages/{message_id}/trash")
        return result

    def delete(self, email: str, message_id: str) -> None:
        self._call("DELETE", f"/users/{email}/messages/{message_id}")

    def snapshot(self, email: str) -> dict[str, Any]:
        result: dict[str, Any] = self._call("GET", f"/users/{email}/snapshot")
        return result

    def expire_history(self, email: str) -> str:
        return str(self._call("POST", f"/users/{email}/expire-history")["historyId"])

    def expire_tokens(self, email: str) -> int:
        return int(self._call("POST", f"/users/{email}/expire-tokens")["expired"])

    def revoke_tokens(self, email: str) -> None:
        self._call("POST", f"/users/{email}/revoke-tokens")

    def set_history_retention(
        self, email: str, *, max_records: int | None = None, max_age_s: float | None = None
    ) -> None:
        self._call(
            "PUT",
            f"/users/{email}/history-retention",
            {"max_records": max_records, "max_age_s": max_age_s},
        )

    def set_faults(
        self,
        *,
        endpoints: dict[str, dict[str, float]] | None = None,
        push_drop: float = 0.0,
        push_duplicate: float = 0.0,
        seed: int | None = None,
    ) -> dict[str, Any]:
        body = {
            "endpoints": endpoints or {},
            "push_drop": push_drop,
            "push_duplicate": push_duplicate,
            "seed": seed,
        }
        result: dict[str, Any] = self._call("PUT", "/faults", body)
        return result

    def clear_faults(self) -> None:
        self.set_faults()

    def set_quota(
        self,
        mode: str = "default",
        *,
        units_per_minute: int | None = None,
        max_concurrent: int | None = None,
        retry_after: bool = True,
        reset_stats: bool = False,
    ) -> dict[str, Any]:
        body: dict[str, Any] = {
            "mode": mode,
            "retry_after": retry_after,
            "reset_stats": reset_stats,
        }
        if units_per_minute is not None:
            body["units_per_minute"] = units_per_minute
        if max_concurrent is not None:
            body["max_concurrent"] = max_concurrent
        result: dict[str, Any] = self._call("PUT", "/quota", body)
        return result

    def configure_push(
        self,
        topic: str,
        push_endpoint: str,
        audience: str,
        *,
        service_account_email: str | None = None,
    ) -> dict[str, Any]:
        body = {"topic": topic, "push_endpoint": push_endpoint, "audience": audience}
        if service_account_email:
            body["service_account_email"] = service_account_email
        result: dict[str, Any] = self._call("PUT", "/push", body)
        return result

    def flush_push(self) -> bool:
        return bool(self._call("POST", "/push/flush")["flushed"])

    def stats(self) -> dict[str, Any]:
        result: dict[str, Any] = self._call("GET", "/stats")
        return result

    def reset(self) -> None:
        self._call("POST", "/reset")
