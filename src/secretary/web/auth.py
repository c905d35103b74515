"""Who is calling, at the HTTP edge: bearer tokens and session cookies (ADR 0013).

``CurrentUser`` is the one dependency every ``/api/v1`` router declares. It

1. authenticates: ``Authorization: Bearer sec_...`` (a personal API token) or the
   ``secretary_session`` cookie (a signed-in browser), else 401;
2. for a cookie on a state-changing method, requires the session's CSRF token
   (``X-CSRF-Token`` header, or the form's ``csrf_token`` for the UI's posts) and a
   same-origin ``Origin`` (or, without one, ``Referer``), with or without a body: a
   cross-site request may carry the cookie (a sibling subdomain is "same site" to
   SameSite=Lax, and old browsers ignore it) but it can never read the token;
3. checks the token's scope for the route class (``required_scope``);
4. applies the user's rate tier (``web.ratelimit``);
5. switches the request's transaction to the application role with the user set
   (``tenancy.act_as``), so row-level security backs every query up.

Lookups by secret run before the caller is known, as the system role.
"""

from __future__ import annotations

import hmac
from contextvars import ContextVar
from datetime import timedelta
from typing import Annotated, Any
from urllib.parse import urlsplit

from fastapi import Depends, Request
from fastapi.responses import Response
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from sqlalchemy import event
from sqlalchemy.orm import Session

from secretary.config import Settings
from secretary.db import tenancy
from secretary.db.models import (
    ApiToken,
    Draft,
    GoogleAccount,
    Message,
    ProposedAction,
    Rule,
    StylePreference,
    TaskRecord,
    User,
)
from secretary.errors import NotFound
from secretary.identity import audit as _audit
from secretary.identity import service as identity
from secretary.identity.errors import InsufficientScope, NotAuthenticated
from secretary.identity.schemas import ALL_SCOPES, Principal
from secretary.web.deps import SessionDep, StateDep

SESSION_COOKIE = "secretary_session"
_audit.install()  # also when an app is built without the composition root


class RequestUser:
    """The user of the request in flight, shared (by reference) with every context copied
    from it. Cleared when the response is done, so work that outlives the request (a task
    the inline runtime started from it) falls back to the system role."""

    __slots__ = ("user_id",)

    def __init__(self) -> None:
        self.user_id: int | None = None


request_user: ContextVar[RequestUser | None] = ContextVar("secretary_request_user", default=None)


@event.listens_for(Session, "after_begin")
def _scope_new_transaction(session: Session, _transaction: Any, connection: Any) -> None:
    """Second wall for code that opens its own session during a request (UI helpers, a
    domain's ``state.sessions()``): its transaction is the signed-in user's too."""
    holder = request_user.get()
    if holder is not None and holder.user_id is not None:
        tenancy.act_as(connection, holder.user_id)
        session.info["scoped_user_id"] = holder.user_id


@event.listens_for(Session, "before_commit")
def _unscope_before_commit(session: Session) -> None:
    # SET LOCAL would survive a released savepoint (tests join one outer transaction).
    if session.info.pop("scoped_user_id", None) is not None:
        tenancy.act_as_system(session)


CSRF_HEADER = "x-csrf-token"
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})


class CsrfRejected(NotAuthenticated):
    status_code = 403
    code = "csrf_failed"


def required_scope(method: str, path: str) -> str:
    """The token scope a route needs. New routes fall into a class without being listed:
    reads need ``read``, sending needs ``send``, identity and account management need
    ``admin``, every other change needs ``draft``."""
    if method in SAFE_METHODS:
        return "read"
    if path.endswith("/approve"):
        return "send"
    if path.startswith(("/api/v1/tokens", "/api/v1/accounts", "/api/v1/tasks")):
        return "admin"
    return "draft"


def origin_of(url: str) -> str:
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}".lower() if parts.scheme and parts.netloc else ""


def is_same_origin(request: Request, settings: Settings) -> bool:
    """The request came from one of our pages: ``Origin`` (or ``Referer``) is our origin."""
    allowed = {origin_of(settings.base_url), origin_of(str(request.base_url))}
    origin = request.headers.get("origin")
    if origin is not None:
        return origin.lower() in allowed
    referer = request.headers.get("referer")
    return referer is not None and origin_of(referer) in allowed


def check_csrf(request: Request, settings: Settings, expected: str, supplied: str | None) -> None:
    """Cookie-authenticated change: the session's CSRF token and a same-origin request."""
    if not supplied or not hmac.compare_digest(expected, supplied):
        raise CsrfRejected(
            "This request did not come from Secretary (missing or wrong CSRF token). "
            "Reload the page and try again."
        )
    if not is_same_origin(request, settings):
        raise CsrfRejected("Cross-site requests are refused.")


def _bearer(request: Request) -> str | None:
    header = request.headers.get("authorization")
    if header is None:
        return None
    scheme, _, value = header.partition(" ")
    if scheme.lower() != "bearer" or not value.strip():
        raise NotAuthenticated("Use 'Authorization: Bearer <token>'.")
    return value.strip()


def authenticate(request: Request, session: Session, settings: Settings) -> Principal:
    """The caller, or ``NotAuthenticated`` (no CSRF or scope checks here)."""
    tenancy.act_as_system(session)
    secret = _bearer(request)
    if secret is not None:
        token = identity.resolve_token(session, secret)
        if token is None:
            raise NotAuthenticated("This API token is unknown, revoked or expired.")
        user = session.get(User, token.user_id)
        return Principal(
            user_id=token.user_id,
            via="token",
            scopes=frozenset(token.scopes),
            token_id=token.id,
            rate_tier=user.rate_tier if user else None,
        )
    row = identity.resolve_session(session, request.cookies.get(SESSION_COOKIE))
    if row is None:
        raise NotAuthenticated("Sign in first, or send an API token.")
    user = session.get(User, row.user_id)
    return Principal(
        user_id=row.user_id,
        via="session",
        scopes=frozenset(ALL_SCOPES),
        session_id=row.id,
        csrf_token=row.csrf_token,
        rate_tier=user.rate_tier if user else None,
    )


def _route_path(request: Request) -> str:
    route = request.scope.get("route")
    return str(getattr(route, "path", request.url.path))


# Path parameters that name a tenant object: checked against the caller before any handler
# runs, so every route addressing one answers 404 for another user's (never 403).
OWNED_PATH_PARAMS: dict[str, type[Any]] = {
    "draft_id": Draft,
    "rule_id": Rule,
    "account_id": GoogleAccount,
    "task_id": TaskRecord,
    "message_id": Message,
    "token_id": ApiToken,
    "action_id": ProposedAction,
    "preference_id": StylePreference,
}
_BIGINT_MAX = 2**63 - 1


def check_owned_path_objects(request: Request, session: Session, principal: Principal) -> None:
    """404 unless each tenant object the path names exists and belongs to the caller."""
    for name, raw in request.path_params.items():
        model = OWNED_PATH_PARAMS.get(name)
        if model is None:
            continue
        kind = name.removesuffix("_id")
        try:
            object_id = int(raw)
        except (TypeError, ValueError):
            continue  # not a number: the route's validation answers 422
        row = session.get(model, object_id) if 0 < object_id <= _BIGINT_MAX else None
        if row is None or row.user_id != principal.user_id:
            raise NotFound(f"{kind} {raw} not found", code=f"{kind}_not_found")


def enter_as(request: Request, session: Session, principal: Principal) -> Principal:
    """Bind the principal to the request and scope its transaction to the user."""
    from secretary.web import ratelimit

    ratelimit.hit(request, principal)
    tenancy.act_as(session, principal.user_id)
    holder = request_user.get()
    if holder is not None:
        holder.user_id = principal.user_id
    check_owned_path_objects(request, session, principal)
    session.info["principal"] = principal
    request.state.principal = principal
    path = _route_path(request)
    hooks = session.info.setdefault("before_commit", [])
    action = audit_action(request.method, path)
    if action is not None:
        params = {k: v for k, v in request.path_params.items() if isinstance(v, int | str)}

        def record(s: Session) -> None:
            identity.record_audit(
                s,
                user_id=principal.user_id,
                action=action,
                actor=principal.via,
                details={**{k: str(v)[:40] for k, v in params.items()}, "via": principal.via},
            )

        hooks.append(record)
    # The connection goes back to the pool (or, in tests, to the outer transaction) as the
    # system role: SET LOCAL would otherwise outlive a released savepoint.
    hooks.append(tenancy.act_as_system)
    return principal


_METHOD_VERBS = {"POST": "create", "PUT": "update", "PATCH": "edit", "DELETE": "delete"}
# POSTs that change nothing (a dry run) are not audited.
_NOT_STATE_CHANGES = frozenset({"preview"})
# Audited where the change happens instead: their services (token.created,
# account.removed, messages.archive) or the flush hook of ``identity.audit`` (draft.sent,
# rule.deleted, ...).
_SELF_AUDITED = frozenset({"tokens", "accounts", "drafts", "rules", "messages"})


def audit_action(method: str, path: str) -> str | None:
    """The audit name of a state-changing API route, derived from its path so new routes
    are audited without being listed: ``POST /api/v1/drafts/{id}/approve`` ->
    ``drafts.approve``, ``DELETE /api/v1/rules/{id}`` -> ``rules.delete``."""
    if method in SAFE_METHODS or not path.startswith("/api/v1/"):
        return None
    parts = [p for p in path.removeprefix("/api/v1/").split("/") if p]
    resource = parts[0] if parts else "api"
    tail = parts[-1] if len(parts) > 1 and not parts[-1].startswith("{") else None
    if tail in _NOT_STATE_CHANGES or resource in _SELF_AUDITED:
        return None
    verb = tail or _METHOD_VERBS.get(method, method.lower())
    return f"{resource}.{verb}"


# Declared for the OpenAPI schema (the docs' "Authorize" button and a lock on every route);
# ``authenticate`` reads the header itself, so a missing one still falls back to the cookie.
_bearer_scheme = HTTPBearer(
    auto_error=False,
    scheme_name="token",
    description="A personal API token: `Authorization: Bearer sec_...` "
    "(Settings -> API tokens, or `secretary tokens create`).",
)
BearerDoc = Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer_scheme)]


def current_user(
    request: Request, session: SessionDep, state: StateDep, _doc: BearerDoc = None
) -> Principal:
    """The API's caller: authenticated, CSRF-checked for cookies, scope-checked, rate
    limited, and with the request's transaction scoped to them."""
    principal = authenticate(request, session, state.settings)
    if principal.via == "session" and request.method not in SAFE_METHODS:
        assert principal.csrf_token is not None
        check_csrf(request, state.settings, principal.csrf_token, request.headers.get(CSRF_HEADER))
    scope = required_scope(request.method, _route_path(request))
    if scope not in principal.scopes:
        raise InsufficientScope(f"This token lacks the '{scope}' scope.")
    return enter_as(request, session, principal)


CurrentUser = Annotated[Principal, Depends(current_user)]


def page_user(request: Request, session: SessionDep, state: StateDep) -> Principal:
    """The UI's caller: a signed-in browser (pages redirect to /login otherwise). Form
    posts check their CSRF field themselves (``check_form``), since it is in the body."""
    principal = authenticate(request, session, state.settings)
    if principal.via != "session":
        raise NotAuthenticated("The web pages need a signed-in browser.")
    return enter_as(request, session, principal)


PageUser = Annotated[Principal, Depends(page_user)]


def stream_user(request: Request, state: StateDep) -> Principal:
    """``CurrentUser`` for long-lived responses (SSE): authenticates in a transaction of its
    own, so the stream does not hold a pooled connection while it is open. Reads only."""
    with state.sessions() as session, session.begin():
        principal = authenticate(request, session, state.settings)
        if "read" not in principal.scopes:
            raise InsufficientScope("This token lacks the 'read' scope.")
        from secretary.web import ratelimit

        ratelimit.hit(request, principal)
        request.state.principal = principal
        return principal


StreamUser = Annotated[Principal, Depends(stream_user)]


def check_form(request: Request, settings: Settings, principal: Principal, token: str) -> None:
    assert principal.csrf_token is not None
    check_csrf(request, settings, principal.csrf_token, token)


def set_session_cookie(response: Response, settings: Settings, secret: str) -> None:
    ttl = timedelta(hours=settings.identity.session_ttl_hours)
    response.set_cookie(
        SESSION_COOKIE,
        secret,
        max_age=int(ttl.total_seconds()),
        path="/",
        httponly=True,
        # Lax: the cookie rides along on top-level navigations (links, the OAuth redirect
        # back) but not on cross-site subresource requests or cross-site POSTs.
        samesite="lax",
        secure=settings.base_url.startswith("https://"),
    )


def clear_session_cookie(response: Response) -> None:
    response.delete_cookie(SESSION_COOKIE, path="/")
