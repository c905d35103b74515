"""Cloud Pub/Sub push for Gmail ``watch``: signed OIDC JWTs, JWKS, background delivery.

After ``users.watch`` every mailbox change (filtered by the watch's labels) queues a push
``{"message": {"data": b64(json{emailAddress, historyId}), "messageId", "publishTime"},
"subscription"}`` to the endpoint configured for the topic (control API), with
``Authorization: Bearer <JWT>`` signed RS256 by the emulator key (iss
``https://accounts.google.com``, aud = configured audience, email = service account).
``GET /oauth2/v3/certs`` serves the JWKS (``/oauth2/v1/certs`` the PEM certificates), so
``google.oauth2.id_token.verify_token(..., certs_url=...)`` verifies it. A daemon thread
delivers from a bounded queue (requests never wait on it), retrying non-2xx answers with
backoff; faults may drop or duplicate notifications.

State keys: ``state.extras["push"]`` (``PushHub``), ``state.extras["signing_key"]``.
"""

from __future__ import annotations

import base64
import datetime as dt
import hashlib
import json
import queue
import secrets
import threading
import time
from dataclasses import asdict, dataclass, field
from typing import Any

import httpx
import structlog
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.x509.oid import NameOID
from fastapi import APIRouter, Request
from google.auth import crypt
from google.auth import jwt as google_jwt
from starlette.responses import Response

from workspace_emulator.errors import GoogleApiError, json_response
from workspace_emulator.faults import fault_injector
from workspace_emulator.gmail_store import Mailbox
from workspace_emulator.state import EmulatorState, EmulatorUser

log = structlog.get_logger(__name__)
router = APIRouter(tags=["pubsub"])

ISSUER = "https://accounts.google.com"
WATCH_TTL_MS = 7 * 24 * 3600 * 1000
QUEUE_SIZE = 10_000
JWT_TTL_S = 3600


@dataclass
class SigningKey:
    kid: str
    private_pem: bytes
    jwk: dict[str, str]
    cert_pem: str
    _signer: Any = None

    def sign(self, claims: dict[str, Any]) -> str:
        if self._signer is None:
            # Loading a PEM key validates it (tens of ms); do it once, not per push.
            self._signer = crypt.RSASigner.from_string(self.private_pem, key_id=self.kid)  # type: ignore[no-untyped-call]
        token: bytes = google_jwt.encode(self._signer, claims)  # type: ignore[no-untyped-call]
        return token.decode()


def _b64uint(n: int) -> str:
    data = n.to_bytes((n.bit_length() + 7) // 8, "big")
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _new_signing_key() -> SigningKey:
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    numbers = key.public_key().public_numbers()
    der = key.public_key().public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    kid = hashlib.sha1(der, usedforsecurity=False).hexdigest()
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "secretary-emulator")])
    now = dt.datetime.now(dt.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(days=1))
        .not_valid_after(now + dt.timedelta(days=365))
        .sign(key, hashes.SHA256())
    )
    return SigningKey(
        kid=kid,
        private_pem=key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        ),
        jwk={
            "kty": "RSA",
            "alg": "RS256",
            "use": "sig",
            "kid": kid,
            "n": _b64uint(numbers.n),
            "e": _b64uint(numbers.e),
        },
        cert_pem=cert.public_bytes(serialization.Encoding.PEM).decode(),
    )


def signing_key(state: EmulatorState) -> SigningKey:
    """The emulator's RS256 key (one per state); OAuth id_tokens may reuse it."""
    with state.lock:
        key = state.extras.get("signing_key")
        if key is None:
            key = state.extras["signing_key"] = _new_signing_key()
        return key


@router.get("/oauth2/v3/certs")
async def jwks(request: Request) -> Response:
    return json_response({"keys": [signing_key(request.app.state.emulator).jwk]})


@router.get("/oauth2/v1/certs")
async def pem_certs(request: Request) -> Response:
    key = signing_key(request.app.state.emulator)
    return json_response({key.kid: key.cert_pem})


@dataclass
class TopicConfig:
    topic: str
    push_endpoint: str
    audience: str
    service_account_email: str = "gmail-push@secretary-emulator.iam.gserviceaccount.com"
    subscription: str = ""

    def __post_init__(self) -> None:
        if not self.subscription:
            project = self.topic.split("/")[1] if self.topic.count("/") >= 3 else "emulator"
            name = self.topic.rsplit("/", 1)[-1]
            self.subscription = f"projects/{project}/subscriptions/{name}-push"


@dataclass
class Watch:
    email: str
    topic: str
    label_ids: frozenset[str]
    behavior: str  # include | exclude
    expiration_ms: int


@dataclass
class PushStats:
    queued: int = 0
    delivered: int = 0
    duplicated: int = 0
    dropped: int = 0
    failed_attempts: int = 0
    gave_up: int = 0
    overflow: int = 0
    no_endpoint: int = 0


@dataclass
class _Delivery:
    topic: TopicConfig
    email: str
    history_id: int
    attempts: int = 0
    copies: int = 1


@dataclass
class PushHub:
    state: EmulatorState
    max_attempts: int = 5
    backoff_s: float = 0.05
    topics: dict[str, TopicConfig] = field(default_factory=dict)
    watches: dict[str, Watch] = field(default_factory=dict)
    stats: PushStats = field(default_factory=PushStats)
    _queue: queue.Queue[_Delivery | None] = field(default_factory=lambda: queue.Queue(QUEUE_SIZE))
    _thread: threading.Thread | None = None
    _lock: threading.Lock = field(default_factory=threading.Lock)
    # Pub/Sub's messageIds are unique per topic for good, and a subscriber may remember
    # them (Secretary keeps receipts for 7 days): each hub numbers from a random start, so
    # a restarted emulator does not hand out the ids of the last run again.
    _seq: int = field(default_factory=lambda: secrets.randbelow(10**15) * 1000)
    _hooked: set[int] = field(default_factory=set)

    def configure_topic(self, config: TopicConfig) -> None:
        with self._lock:
            self.topics[config.topic] = config

    def watch(self, user: EmulatorUser, body: dict[str, Any]) -> dict[str, Any]:
        topic = str(body.get("topicName") or "")
        parts = topic.split("/")
        if len(parts) != 4 or parts[0] != "projects" or parts[2] != "topics":
            raise GoogleApiError(
                400,
                "Invalid topicName does not match projects/SOME-PROJECT/topics/*",
                reason="invalidArgument",
            )
        behavior = str(
            body.get("labelFilterBehavior") or body.get("labelFilterAction") or "include"
        ).lower()
        expiration = int(time.time() * 1000) + WATCH_TTL_MS
        mailbox = user.mailbox
        with self._lock:
            self.watches[user.email] = Watch(
                email=user.email,
                topic=topic,
                label_ids=frozenset(body.get("labelIds") or ()),
                behavior=behavior,
                expiration_ms=expiration,
            )
            if id(mailbox) not in self._hooked:
                self._hooked.add(id(mailbox))
                mailbox.listeners.append(self.on_change)
        return {"historyId": str(mailbox.history_id), "expiration": str(expiration)}

    def stop(self, email: str) -> None:
        with self._lock:
            self.watches.pop(email, None)

    def on_change(self, mailbox: Mailbox, history_id: int, touched: frozenset[str]) -> None:
        """Called under the mailbox lock: decide and enqueue only, never block."""
        watch = self.watches.get(mailbox.email)
        if watch is None or watch.expiration_ms < time.time() * 1000:
            return
        if watch.label_ids:
            hit = bool(touched & watch.label_ids)
            if (watch.behavior == "include" and not hit) or (
                watch.behavior == "exclude" and not (touched - watch.label_ids)
            ):
                return
        topic = self.topics.get(watch.topic)
        if topic is None:
            self.stats.no_endpoint += 1
            return
        fate = fault_injector(self.state).push_fate()
        if fate == "drop":
            self.stats.dropped += 1
            return
        self._ensure_thread()
        try:
            self._queue.put_nowait(
                _Delivery(topic, mailbox.email, history_id, copies=2 if fate == "duplicate" else 1)
            )
            self.stats.queued += 1
        except queue.Full:
            self.stats.overflow += 1

    def _ensure_thread(self) -> None:
        if self._thread is None or not self._thread.is_alive():
            self._thread = threading.Thread(target=self._run, name="emulator-push", daemon=True)
            self._thread.start()

    def _run(self) -> None:
        with httpx.Client(timeout=10.0) as client:
            while True:
                item = self._queue.get()
                try:
                    if item is None:
                        return
                    for _ in range(item.copies):
                        self._deliver(client, item)
                    if item.copies > 1:
                        self.stats.duplicated += 1
                finally:
                    self._queue.task_done()

    def envelope(self, item: _Delivery) -> tuple[dict[str, Any], str]:
        with self._lock:
            self._seq += 1
            message_id = str(10**17 + self._seq)
        data = json.dumps({"emailAddress": item.email, "historyId": item.history_id}).encode()
        now = time.time()
        body = {
            "message": {
                "data": base64.b64encode(data).decode(),
                "messageId": message_id,
                "message_id": message_id,
                "publishTime": dt.datetime.fromtimestamp(now, dt.UTC)
                .isoformat()
                .replace("+00:00", "Z"),
                "attributes": {},
            },
            "subscription": item.topic.subscription,
        }
        token = signing_key(self.state).sign(
            {
                "iss": ISSUER,
                "aud": item.topic.audience,
                "azp": item.topic.service_account_email,
                "sub": item.topic.service_account_email,
                "email": item.topic.service_account_email,
                "email_verified": True,
                "iat": int(now),
                "exp": int(now) + JWT_TTL_S,
            }
        )
        return body, token

    def _deliver(self, client: httpx.Client, item: _Delivery) -> None:
        body, token = self.envelope(item)
        for attempt in range(self.max_attempts):
            try:
                resp = client.post(
                    item.topic.push_endpoint,
                    json=body,
                    headers={"Authorization": f"Bearer {token}"},
                )
                if 200 <= resp.status_code < 300:
                    self.stats.delivered += 1
                    return
            except httpx.HTTPError:
                pass
            self.stats.failed_attempts += 1
            time.sleep(min(self.backoff_s * 2**attempt, 2.0))
        self.stats.gave_up += 1
        log.warning("emulator.push.gave_up", attempts=self.max_attempts)

    def flush(self, timeout: float = 10.0) -> bool:
        """Wait until every queued push was delivered or given up (tests, benchmarks)."""
        deadline = time.monotonic() + timeout
        while self._queue.unfinished_tasks:
            if time.monotonic() > deadline:
                return False
            time.sleep(0.01)
        return True

    def close(self) -> None:
        if self._thread is not None and self._thread.is_alive():
            self._queue.put(None)
            self._thread.join(timeout=5)

    def to_dict(self) -> dict[str, Any]:
        return {
            "stats": asdict(self.stats),
            "topics": [asdict(t) for t in self.topics.values()],
            "watches": [
                {**asdict(w), "label_ids": sorted(w.label_ids)} for w in self.watches.values()
            ],
            "pending": self._queue.unfinished_tasks,
        }


def push_hub(state: EmulatorState) -> PushHub:
    with state.lock:
        hub = state.extras.get("push")
        if hub is None:
            hub = state.extras["push"] = PushHub(state=state)
        return hub
