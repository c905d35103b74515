"""The Gmail operations drafting and triage need, behind a small Protocol.

``GoogleGmailPort`` implements it on the official client (``google.gmail.GmailClient``,
quota-metered). ``drafts.create`` is sent exactly once per call, never retried inside the
client: a 5xx after Google stored the draft would otherwise create a second one. The task
retries instead, after looking for the draft by its ``X-Secretary-Draft-Key`` header.
"""

from __future__ import annotations

import base64
import hashlib
import threading
from collections.abc import Callable, Sequence
from datetime import datetime
from email import message_from_bytes, policy
from email.message import EmailMessage
from typing import Any, Protocol

from googleapiclient.errors import HttpError
from sqlalchemy.orm import Session, sessionmaker

from secretary.config import Settings
from secretary.errors import SecretaryError

DRAFT_KEY_HEADER = "X-Secretary-Draft-Key"
# At most this many sent messages are read when looking for one of ours after a lost answer.
SENT_SCAN_LIMIT = 500


class DraftCreateFailed(SecretaryError):
    """``drafts.create`` answered an error; the task retries (after ``Retry-After`` on 429)."""

    status_code = 502
    code = "gmail_draft_create_failed"

    def __init__(self, message: str, *, http_status: int, retry_after_seconds: float | None):
        super().__init__(message)
        self.http_status = http_status
        # Read by the task runner: a retry sooner than Google asked for would be refused.
        self.retry_after_seconds = retry_after_seconds

    @classmethod
    def from_http_error(cls, exc: HttpError) -> DraftCreateFailed:
        from secretary.kit.retry_after import retry_after_seconds

        status = int(getattr(exc.resp, "status", 0) or 0)
        retry_after = retry_after_seconds(exc.resp)
        return cls(
            f"drafts.create failed with HTTP {status}: {exc.reason}",
            http_status=status,
            retry_after_seconds=retry_after,
        )


class GmailDraftMissing(SecretaryError):
    """The Gmail draft is gone: sent, or deleted by the user in Gmail."""

    status_code = 409
    code = "gmail_draft_missing"


def _carries_key(message: dict[str, Any], draft_key: str) -> bool:
    return any(
        header.get("name", "").lower() == DRAFT_KEY_HEADER.lower()
        and header.get("value") == draft_key
        for header in message.get("payload", {}).get("headers", [])
    )


def _is_not_found(exc: BaseException) -> bool:
    return isinstance(exc, HttpError) and int(getattr(exc.resp, "status", 0) or 0) == 404


class GmailPort(Protocol):
    def list_drafts(self) -> list[dict[str, Any]]:
        """Every draft as ``{"id", "message": {"id", "threadId"}}``."""
        ...

    def get_draft_raw(self, draft_id: str) -> bytes:
        """The draft's RFC 822 bytes."""
        ...

    def create_draft(self, raw: bytes, *, thread_id: str) -> dict[str, Any]: ...

    def update_draft(self, draft_id: str, raw: bytes, *, thread_id: str) -> dict[str, Any]: ...

    def send_draft(self, draft_id: str) -> dict[str, Any]:
        """Send the draft as Gmail holds it; ``{"id", "threadId"}`` of the sent message.

        Raises ``GmailDraftMissing`` when the draft no longer exists (sent or deleted)."""
        ...

    def delete_draft(self, draft_id: str) -> None:
        """Delete the draft; one already gone is not an error."""
        ...

    def find_sent_with_key(
        self, draft_key: str, *, thread_id: str | None = None, sent_after: datetime | None = None
    ) -> str | None:
        """The id of a SENT message carrying our draft key header, if any.

        Found by search (``in:sent``, newer than ``sent_after``), never by thread alone:
        Gmail decides the thread of what it stores, so ``thread_id`` is only looked at first
        as a cheap hint."""
        ...

    def ensure_labels(self, names: Sequence[str]) -> dict[str, str]:
        """Label name → id, creating the missing ones."""
        ...

    def modify_message(
        self, gmail_id: str, *, add: Sequence[str], remove: Sequence[str]
    ) -> None: ...


GmailFactory = Callable[[Session, int], GmailPort]


def body_hash(body: str) -> str:
    """Hash of a draft body as Gmail returns it (line endings and trailing space normalised)."""
    normal = "\n".join(line.rstrip() for line in body.replace("\r\n", "\n").strip().split("\n"))
    return hashlib.sha256(normal.encode()).hexdigest()


def compose_raw(
    *,
    from_addr: str,
    to: Sequence[str],
    cc: Sequence[str],
    subject: str,
    body: str,
    in_reply_to: str | None,
    references: Sequence[str],
    draft_key: str,
    bcc: Sequence[str] = (),
) -> bytes:
    msg = EmailMessage()
    msg["From"] = from_addr
    if to:
        msg["To"] = ", ".join(to)
    if cc:
        msg["Cc"] = ", ".join(cc)
    if bcc:
        msg["Bcc"] = ", ".join(bcc)
    msg["Subject"] = subject
    if in_reply_to:
        msg["In-Reply-To"] = in_reply_to
    if references:
        msg["References"] = " ".join(references)
    msg[DRAFT_KEY_HEADER] = draft_key
    msg.set_content(body)
    return msg.as_bytes(policy=policy.SMTP)


def parse_raw(raw: bytes) -> tuple[dict[str, str], str]:
    """Headers (first value of each, lower-cased names) and the plain-text body."""
    msg = message_from_bytes(raw, policy=policy.default)
    headers: dict[str, str] = {}
    for k, v in msg.items():
        headers.setdefault(k.lower(), str(v))
    part = msg.get_body(preferencelist=("plain",)) if msg.is_multipart() else msg
    text = ""
    if part is not None:
        try:
            text = part.get_content()
        except (LookupError, KeyError):
            payload = part.get_payload(decode=True)
            text = payload.decode("utf-8", "replace") if isinstance(payload, bytes) else ""
    return headers, text


def _b64(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).decode()


class _SharedResources:
    """``users()`` whose ``drafts()``, ``threads()`` ... are each built once and reused."""

    def __init__(self, users: Any) -> None:
        self._users = users
        self._built: dict[str, Any] = {}
        self._lock = threading.Lock()

    def __getattr__(self, name: str) -> Callable[[], Any]:
        def sub() -> Any:
            with self._lock:
                if name not in self._built:
                    self._built[name] = getattr(self._users, name)()
                return self._built[name]

        return sub


class GoogleGmailPort:
    def __init__(self, client: Any) -> None:
        self.client = client  # secretary.google.gmail.GmailClient
        self._labels: dict[str, str] | None = None
        self._lock = threading.Lock()
        self._resources: _SharedResources | None = None

    @property
    def _users(self) -> Any:
        # Building a discovery Resource costs ~1-4 ms of CPU and they hold no per-call
        # state, so build users() and its sub-resources once per port (one per account).
        if self._resources is None:  # a race builds two equivalent ones: harmless
            self._resources = _SharedResources(self.client.service.users())
        return self._resources

    def _call(self, request: Any, method: str) -> Any:
        # GmailClient has no draft or label calls yet; its private metered path is the
        # one place quota, retries and the circuit breaker live, so go through it.
        return self.client._execute(request, method)

    def list_drafts(self) -> list[dict[str, Any]]:
        drafts: list[dict[str, Any]] = []
        token: str | None = None
        while True:
            page = self._call(
                self._users.drafts().list(userId="me", pageToken=token, maxResults=500),
                "drafts.list",
            )
            drafts.extend(page.get("drafts", []))
            token = page.get("nextPageToken")
            if not token:
                return drafts

    def get_draft_raw(self, draft_id: str) -> bytes:
        try:
            draft = self._call(
                self._users.drafts().get(userId="me", id=draft_id, format="raw"), "drafts.get"
            )
        except HttpError as exc:
            if _is_not_found(exc):
                raise GmailDraftMissing("the Gmail draft no longer exists") from exc
            raise
        return base64.urlsafe_b64decode(draft["message"]["raw"])

    def create_draft(self, raw: bytes, *, thread_id: str) -> dict[str, Any]:
        request = self._users.drafts().create(
            userId="me", body={"message": {"raw": _b64(raw), "threadId": thread_id}}
        )
        client = self.client
        try:
            with client.governor.slot(10):
                result: dict[str, Any] = request.execute(http=client._http())
        except HttpError as exc:
            raise DraftCreateFailed.from_http_error(exc) from exc
        return result

    def update_draft(self, draft_id: str, raw: bytes, *, thread_id: str) -> dict[str, Any]:
        result: dict[str, Any] = self._call(
            self._users.drafts().update(
                userId="me",
                id=draft_id,
                body={"message": {"raw": _b64(raw), "threadId": thread_id}},
            ),
            "drafts.update",
        )
        return result

    def send_draft(self, draft_id: str) -> dict[str, Any]:
        # By id only, no message body: Gmail sends what the draft holds (a human edit
        # included) and consumes the draft, so a client-level retry after a lost response
        # gets 404 instead of sending twice.
        try:
            result: dict[str, Any] = self._call(
                self._users.drafts().send(userId="me", body={"id": draft_id}), "drafts.send"
            )
        except HttpError as exc:
            if _is_not_found(exc):
                raise GmailDraftMissing("the Gmail draft no longer exists") from exc
            raise
        return result

    def delete_draft(self, draft_id: str) -> None:
        try:
            self._call(self._users.drafts().delete(userId="me", id=draft_id), "drafts.delete")
        except HttpError as exc:
            if not _is_not_found(exc):
                raise

    def find_sent_with_key(
        self, draft_key: str, *, thread_id: str | None = None, sent_after: datetime | None = None
    ) -> str | None:
        checked: set[str] = set()
        if thread_id:
            try:
                thread = self._call(
                    self._users.threads().get(
                        userId="me",
                        id=thread_id,
                        format="metadata",
                        metadataHeaders=[DRAFT_KEY_HEADER],
                    ),
                    "threads.get",
                )
            except HttpError as exc:
                if not _is_not_found(exc):
                    raise
                thread = {}
            for msg in thread.get("messages", []):
                checked.add(str(msg.get("id")))
                if "SENT" in msg.get("labelIds", []) and _carries_key(msg, draft_key):
                    return str(msg["id"])
        # Gmail may have put the message in another thread than the one we asked for (it
        # threads only when the headers and the subject match): search the sent mail.
        query = "in:sent"
        if sent_after is not None:
            query += f" after:{int(sent_after.timestamp())}"
        token: str | None = None
        scanned = 0
        while scanned < SENT_SCAN_LIMIT:
            page = self._call(
                self._users.messages().list(userId="me", q=query, pageToken=token, maxResults=100),
                "messages.list",
            )
            for ref in page.get("messages", []):
                message_id = str(ref["id"])
                if message_id in checked:
                    continue
                scanned += 1
                msg = self._call(
                    self._users.messages().get(
                        userId="me",
                        id=message_id,
                        format="metadata",
                        metadataHeaders=[DRAFT_KEY_HEADER],
                    ),
                    "messages.get",
                )
                if _carries_key(msg, draft_key):
                    return message_id
            token = page.get("nextPageToken")
            if not token:
                break
        return None

    def ensure_labels(self, names: Sequence[str]) -> dict[str, str]:
        with self._lock:
            if self._labels is None or any(n not in self._labels for n in names):
                listed = self._call(self._users.labels().list(userId="me"), "labels.list")
                self._labels = {lab["name"]: lab["id"] for lab in listed.get("labels", [])}
            for name in names:
                if name not in self._labels:
                    created = self._call(
                        self._users.labels().create(
                            userId="me",
                            body={
                                "name": name,
                                "labelListVisibility": "labelShow",
                                "messageListVisibility": "show",
                            },
                        ),
                        "labels.create",
                    )
                    self._labels[name] = created["id"]
            return {n: self._labels[n] for n in names}

    def modify_message(self, gmail_id: str, *, add: Sequence[str], remove: Sequence[str]) -> None:
        self._call(
            self._users.messages().modify(
                userId="me",
                id=gmail_id,
                body={"addLabelIds": list(add), "removeLabelIds": list(remove)},
            ),
            "messages.modify",
        )


def google_gmail_factory(settings: Settings, sessions: sessionmaker[Session]) -> GmailFactory:
    """Per-process factory: one ``GoogleGmailPort`` per account, reused across tasks.

    The token comes from the accounts service (which refreshes before expiry); a 401 later
    refreshes through it too, so the port stays valid across token rotations.
    """
    cache: dict[int, GoogleGmailPort] = {}
    lock = threading.Lock()

    def factory(session: Session, account_id: int) -> GmailPort:
        with lock:
            hit = cache.get(account_id)
        if hit is not None:
            return hit
        from secretary.accounts import service as accounts
        from secretary.google.client import ManagedCredentials
        from secretary.google.gmail import GmailClient

        token = accounts.get_access_token(session, account_id, settings=settings)
        refresher = accounts.make_token_refresher(
            sessions, account_id, settings=settings, current_token=token
        )
        client = GmailClient(
            ManagedCredentials(token, refresher),
            settings=settings,
            account_key=str(account_id),
        )
        port = GoogleGmailPort(client)
        with lock:
            return cache.setdefault(account_id, port)

    return factory
