"""``POST /webhooks/google/pubsub``: Gmail push notifications through Pub/Sub.

The push carries a Google-signed OIDC JWT in ``Authorization``; we verify signature,
audience and issuer, answer 401 otherwise, drop duplicates (Pub/Sub ``messageId`` and
``historyId`` already covered by the stored cursor) and queue a ``sync.run`` task for the
account (committed with the request, run by the task runtime). Valid pushes always get a
quick 2xx: the sync itself runs in the background, since Pub/Sub redelivers anything not
acknowledged within its deadline.
"""

from __future__ import annotations

import threading
import time
from typing import Any

from fastapi import APIRouter, FastAPI, Request, Response
from google.auth import transport
from google.auth.transport import requests as ga_requests
from google.oauth2 import id_token
from pydantic import BaseModel, Field, ValidationError
from starlette.concurrency import run_in_threadpool

from secretary.config import Settings
from secretary.db.session import unit_of_work
from secretary.errors import BadRequest, SecretaryError
from secretary.kit.logging import get_logger
from secretary.sync import engine
from secretary.sync.push import PushDeduplicator, accept_push
from secretary.web.app import register_routes
from secretary.web.deps import AppState, StateDep

log = get_logger(__name__)

router = APIRouter(tags=["webhooks"])

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


def verify_push_token(authorization: str | None, settings: Settings) -> dict[str, Any]:
    """The verified claims of the push's OIDC token, or ``InvalidPushToken``."""
    if not authorization or not authorization.lower().startswith("bearer "):
        raise InvalidPushToken("missing bearer token")
    token = authorization.split(" ", 1)[1].strip()
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
    return claims


# Pub/Sub ``messageId``s seen by this process. Another process may see a duplicate again:
# harmless, the queued sync coalesces and the stale-history check drops it.
_push_dedup = PushDeduplicator()


@router.post(
    "/webhooks/google/pubsub",
    status_code=204,
    openapi_extra={
        "requestBody": {
            "required": True,
            "content": {"application/json": {"schema": PubSubPush.model_json_schema()}},
        }
    },
)
async def pubsub_push(request: Request, state: StateDep) -> Response:
    """A Gmail push. ``Authorization`` is verified before a byte of the body is read (the
    body is limited to 64 KiB anyway), and the pushed ``historyId`` only ever triggers a
    sync: it is never stored, so a forged one cannot advance or blind anything."""
    await run_in_threadpool(verify_push_token, request.headers.get("authorization"), state.settings)
    try:
        body = PubSubPush.model_validate_json(await request.body())
    except ValidationError as exc:
        raise BadRequest("not a Pub/Sub push message", code="invalid_push_body") from exc
    return await run_in_threadpool(_accept, body, state)


def _accept(body: PubSubPush, state: AppState) -> Response:
    message_id = body.message.message_id
    if message_id and not _push_dedup.first_time(message_id):
        return Response(status_code=204, headers={"X-Secretary-Push": "duplicate"})
    with unit_of_work(state.sessions) as session:
        decision = accept_push(session, body.message.data)
        if decision.should_sync and decision.account_id is not None:
            engine.request_sync(session, decision.account_id, "gmail")
    if not decision.should_sync:
        log.info("push_dropped", reason=decision.reason)
    return Response(status_code=204, headers={"X-Secretary-Push": decision.reason})


@register_routes
def _install(app: FastAPI) -> None:
    app.include_router(router)
