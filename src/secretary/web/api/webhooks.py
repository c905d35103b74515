"""``POST /webhooks/google/pubsub``: Gmail push notifications through Pub/Sub.

The push carries a Google-signed OIDC JWT in ``Authorization``; we verify signature,
audience and issuer (once per token: Pub/Sub reuses it until it expires) and answer 401
otherwise, before reading the body. Valid pushes are recorded by ``sync.push``: a durable
receipt per Pub/Sub ``messageId`` (a redelivery is a ``duplicate``, whenever it comes),
then a ``sync.run`` task for the account unless the stored cursor already covers the
pushed ``historyId``. Pushes arriving together share one transaction (a group commit, ADR
0021); each is answered 204 once it has committed. The sync itself runs in the
background, since Pub/Sub redelivers anything not acknowledged within its deadline.
"""

from __future__ import annotations

import asyncio
import functools
import hashlib
import threading
import time
from collections import OrderedDict
from typing import Any

from fastapi import APIRouter, FastAPI, Request, Response
from google.auth import transport
from google.auth.transport import requests as ga_requests
from google.oauth2 import id_token
from prometheus_client import Counter, Histogram
from pydantic import BaseModel, Field, ValidationError
from sqlalchemy import exc as sa_exc
from starlette.concurrency import run_in_threadpool
from starlette.routing import Match, Route
from starlette.types import Scope

from secretary.config import Settings
from secretary.db.session import unit_of_work
from secretary.errors import BadRequest, DatabaseError, SecretaryError
from secretary.kit.group_commit import GroupCommit
from secretary.kit.logging import get_logger
from secretary.sync.push import Push, PushDecision, accept_pushes
from secretary.web.app import register_routes
from secretary.web.deps import AppState

log = get_logger(__name__)

router = APIRouter(tags=["webhooks"])
PUSH_PATH = "/webhooks/google/pubsub"

GOOGLE_CERTS_URL = "https://www.googleapis.com/oauth2/v3/certs"
GOOGLE_ISSUERS = frozenset({"accounts.google.com", "https://accounts.google.com"})


class InvalidPushToken(SecretaryError):
    status_code = 401
    code = "invalid_push_token"


class PubSubMessage(BaseModel):
    data: str = ""
    message_id: str | None = Field(default=None, alias="messageId")
    publish_time: str | None = Field(default=None, alias="publishTime")
    attributes: dict[str, str] | None = None


class PubSubPush(BaseModel):
    message: PubSubMessage
    subscription: str | None = None


def certs_url(settings: Settings) -> str:
    base = settings.google.oauth_base_url or settings.google.api_base_url
    return f"{base.rstrip('/')}/oauth2/v3/certs" if base else GOOGLE_CERTS_URL


class _CachedCerts(transport.Request):
    """A google-auth transport that caches GET responses (the signing keys) for ``ttl`` s.

    Every push is verified against Google's JWKS; fetching it per push would add a round
    trip to each notification. Keys rotate rarely, and a token signed by a key we have not
    seen makes ``verify_push_token`` refetch once (at most every ``min_refetch`` seconds, so
    bad tokens cannot turn us into a load generator against Google).
    """

    def __init__(self, ttl: float = 3600.0, min_refetch: float = 60.0) -> None:
        self.ttl = ttl
        self.min_refetch = min_refetch
        self._local = threading.local()
        self._lock = threading.Lock()
        self._cache: dict[str, tuple[float, transport.Response]] = {}
        self._fetched_at: dict[str, float] = {}

    def _inner(self) -> ga_requests.Request:
        inner = getattr(self._local, "inner", None)
        if inner is None:
            inner = self._local.inner = ga_requests.Request()
        return inner

    def __call__(
        self,
        url: str,
        method: str = "GET",
        body: Any = None,
        headers: Any = None,
        timeout: Any = None,
        **kwargs: Any,
    ) -> transport.Response:
        now = time.monotonic()
        if method == "GET" and body is None:
            with self._lock:
                hit = self._cache.get(url)
            if hit is not None and hit[0] > now:
                return hit[1]
        response: transport.Response = self._inner()(
            url, method=method, body=body, headers=headers, timeout=timeout, **kwargs
        )
        if method == "GET" and body is None and response.status == 200:
            with self._lock:
                self._cache[url] = (now + self.ttl, response)
                self._fetched_at[url] = now
        return response

    def forget(self, url: str) -> bool:
        """Drop the cached keys of ``url`` unless they were fetched very recently."""
        with self._lock:
            if time.monotonic() - self._fetched_at.get(url, -1e9) < self.min_refetch:
                return False
            self._cache.pop(url, None)
            return True


_certs_transport = _CachedCerts()


class _VerifiedTokens:
    """Claims of push tokens that passed every check, kept until the token's ``exp``.

    Pub/Sub reuses one OIDC token for many pushes (it mints a new one before the old one
    expires), so verifying it again per push (parse, RSA, claims) is repeated work. Keys
    are the SHA-256 of the token and of the settings it was checked against (the cache
    holds no bearer tokens); only tokens that passed are cached, so a bad token is
    verified, and refused, every time.
    """

    def __init__(self, capacity: int = 1024) -> None:
        self.capacity = capacity
        self._lock = threading.Lock()
        self._claims: OrderedDict[bytes, tuple[float, dict[str, Any]]] = OrderedDict()

    @staticmethod
    def key(token: str, settings: Settings) -> bytes:
        google = settings.google
        # Everything the verdict depends on: the audience, the service account and the
        # keys the signature was checked with (settings pointing at another issuer's keys,
        # the emulator's or Google's, must not inherit the other's verdicts).
        checked = "\n".join(
            (
                token,
                google.pubsub_audience or "",
                google.pubsub_service_account or "",
                certs_url(settings),
            )
        )
        return hashlib.sha256(checked.encode()).digest()

    def get(self, key: bytes) -> dict[str, Any] | None:
        with self._lock:
            hit = self._claims.get(key)
            if hit is None:
                return None
            # The wall clock, not kit.clock: google-auth checks exp on it, pinned or not.
            if time.time() >= hit[0]:  # expired: google-auth would refuse it now
                del self._claims[key]
                return None
            return dict(hit[1])

    def put(self, key: bytes, claims: dict[str, Any]) -> None:
        try:
            expires_at = float(claims["exp"])
        except (KeyError, TypeError, ValueError):
            return
        with self._lock:
            self._claims[key] = (expires_at, claims)
            self._claims.move_to_end(key)
            while len(self._claims) > self.capacity:
                self._claims.popitem(last=False)

    def clear(self) -> None:
        with self._lock:
            self._claims.clear()


_verified_tokens = _VerifiedTokens()


def _bearer(authorization: str | None) -> str:
    if not authorization or not authorization.lower().startswith("bearer "):
        raise InvalidPushToken("missing bearer token")
    return authorization.split(" ", 1)[1].strip()


def cached_claims(authorization: str | None, settings: Settings) -> dict[str, Any] | None:
    """The claims of a token verified before and not yet expired, else None (verify it)."""
    try:
        token = _bearer(authorization)
    except InvalidPushToken:
        return None
    return _verified_tokens.get(_VerifiedTokens.key(token, settings))


def verify_push_token(authorization: str | None, settings: Settings) -> dict[str, Any]:
    """The verified claims of the push's OIDC token, or ``InvalidPushToken``."""
    token = _bearer(authorization)
    key = _VerifiedTokens.key(token, settings)
    cached = _verified_tokens.get(key)
    if cached is not None:
        return cached
    url = certs_url(settings)
    for attempt in (1, 2):
        try:
            claims: dict[str, Any] = dict(
                id_token.verify_token(
                    token,
                    _certs_transport,
                    audience=settings.google.pubsub_audience,
                    certs_url=url,
                )
            )
            break
        except Exception as exc:  # google-auth raises ValueError and several transport errors
            # A key rotation: try once more with freshly fetched keys.
            if attempt == 1 and _certs_transport.forget(url):
                continue
            raise InvalidPushToken("push token failed verification") from exc
    if claims.get("iss") not in GOOGLE_ISSUERS:
        raise InvalidPushToken("push token has an unexpected issuer")
    # Google signs tokens for every service account: the signature alone says "some
    # Google service account", the email claim says whose subscription pushed this.
    expected = settings.google.pubsub_service_account
    if expected and (
        str(claims.get("email", "")).lower() != expected.lower()
        or claims.get("email_verified") not in (True, "true")
    ):
        raise InvalidPushToken("push token was signed for another service account")
    _verified_tokens.put(key, claims)
    return claims


PUSHES = Counter("secretary_pushes_total", "Gmail pushes answered, by decision", ["reason"])
PUSH_BATCH_SIZE = Histogram(
    "secretary_push_batch_size",
    "Pushes recorded per transaction (group commit)",
    buckets=(1, 2, 4, 8, 16, 32, 64, 128, 256),
)


def _record(state: AppState, pushes: list[Push]) -> list[PushDecision]:
    with unit_of_work(state.sessions) as session:
        decisions = accept_pushes(session, pushes)
    PUSH_BATCH_SIZE.observe(len(pushes))
    for decision in decisions:
        PUSHES.labels(decision.reason).inc()
    return decisions


def _items_at_fault(exc: Exception) -> bool:
    """Whether retrying a failed batch push by push can help: not when the database itself
    is unreachable (every push would fail, one slow attempt after another)."""
    return not isinstance(exc, (sa_exc.OperationalError, sa_exc.InterfaceError, DatabaseError))


def _committer(request: Request, state: AppState) -> GroupCommit[Push, PushDecision]:
    """The app's group commit of pushes, on the running loop (a test client runs a loop
    per client)."""
    committer: GroupCommit[Push, PushDecision] | None = getattr(
        request.app.state, "push_committer", None
    )
    if committer is None or committer.loop is not asyncio.get_running_loop():
        committer = GroupCommit(functools.partial(_record, state), splits=_items_at_fault)
        request.app.state.push_committer = committer
    return committer


async def receive_push(request: Request) -> Response:
    """A Gmail push. ``Authorization`` is verified before a byte of the body is read (the
    body is limited to 64 KiB anyway), and the pushed ``historyId`` only ever triggers a
    sync: it is never stored, so a forged one cannot advance or blind anything.

    The push is recorded (its receipt, and a ``sync.run`` request unless one is waiting)
    together with the pushes that arrive while the previous batch commits, and answered
    204 once that transaction has committed (ADR 0021)."""
    state: AppState = request.app.state.secretary
    authorization = request.headers.get("authorization")
    if cached_claims(authorization, state.settings) is None:
        await run_in_threadpool(verify_push_token, authorization, state.settings)
    try:
        body = PubSubPush.model_validate_json(await request.body())
    except ValidationError as exc:
        raise BadRequest("not a Pub/Sub push message", code="invalid_push_body") from exc
    push = Push(body.message.message_id, body.message.data)
    decision = await _committer(request, state).submit(push)
    if decision.reason not in ("sync", "duplicate"):
        log.info("push_dropped", reason=decision.reason)
    return Response(status_code=204, headers={"X-Secretary-Push": decision.reason})


@router.post(
    PUSH_PATH,
    status_code=204,
    openapi_extra={
        "requestBody": {
            "required": True,
            "content": {"application/json": {"schema": PubSubPush.model_json_schema()}},
        }
    },
)
async def pubsub_push(request: Request) -> Response:
    """A Gmail push (Pub/Sub push subscription), with Google's OIDC token as ``Bearer``.

    Answers 204 once the push is recorded; ``X-Secretary-Push`` says what became of it
    (``sync``, ``duplicate``, ``stale``, ``unknown_account``, ``not_syncable``,
    ``malformed``). 401 for a missing or invalid token, before the body is read."""
    return await receive_push(request)


class _PushRoute(Route):
    """``receive_push`` as a plain Starlette route, named in ``scope["route"]`` like a
    FastAPI route (the HTTP metrics label requests by it)."""

    def matches(self, scope: Scope) -> tuple[Match, Scope]:
        match, child_scope = super().matches(scope)
        if match != Match.NONE:
            child_scope["route"] = self
        return match, child_scope


@register_routes
def _install(app: FastAPI) -> None:
    app.include_router(router)
    # Pub/Sub calls this route hundreds of times a second: it is served by a plain Starlette
    # route ahead of all others, which skips the walk over every route and FastAPI's
    # per-request dependency solving (issue 14; together a fifth of a push's CPU). The
    # FastAPI route above documents it in the OpenAPI schema and runs the same code.
    app.router.routes.insert(0, _PushRoute(PUSH_PATH, receive_push, methods=["POST"]))
