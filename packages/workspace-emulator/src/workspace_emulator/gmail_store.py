"""One user's Gmail mailbox in memory: messages, threads, labels, drafts and history.

Raw RFC 822 bytes are stored once per message; everything a ``messages.get`` renders (the
MIME ``payload`` tree, snippet, decoded headers, search text) is derived lazily and the small
parts are cached, so a batch ``get`` costs a dict lookup plus one base64 pass. Messages are
also kept in a list sorted by ``(internalDate, id)`` so list pages resume by bisection instead
of scanning from the top. Every change appends a history record and bumps ``history_id``;
listeners (Pub/Sub push) are told after the change, outside any I/O.

All public methods take ``self.lock`` (the state's one ``RLock``, see ``state.py``).
"""

from __future__ import annotations

import base64
import bisect
import hashlib
import html
import quopri
import re
import threading
import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from email import message_from_bytes
from email.header import decode_header
from email.message import Message
from email.parser import BytesHeaderParser
from email.policy import compat32
from email.utils import getaddresses, parsedate_to_datetime
from typing import Any

from selectolax.lexbor import LexborHTMLParser

from workspace_emulator import _clock
from workspace_emulator import query as gquery
from workspace_emulator.errors import GoogleApiError

SYSTEM_LABELS = (
    "CHAT",
    "SENT",
    "INBOX",
    "IMPORTANT",
    "TRASH",
    "DRAFT",
    "SPAM",
    "CATEGORY_FORUMS",
    "CATEGORY_UPDATES",
    "CATEGORY_PERSONAL",
    "CATEGORY_PROMOTIONS",
    "CATEGORY_SOCIAL",
    "STARRED",
    "UNREAD",
)
# Labels a client may not set through modify (Gmail answers 400 "Invalid label").
NOT_MODIFIABLE = frozenset({"DRAFT", "SENT", "CHAT"})
HISTORY_TYPES = ("messageAdded", "messageDeleted", "labelAdded", "labelRemoved")
SNIPPET_CHARS = 200
SEARCH_TEXT_CHARS = 100_000
SNIPPET_SCAN_BYTES = 65_536
_HTML_CAP = 200_000
_SUBJECT_PREFIX = re.compile(r"^\s*((re|fwd?|aw|sv|tr)\s*(\[\d+\])?\s*:\s*)+", re.IGNORECASE)
_WS = re.compile(r"\s+")
_MSGID = re.compile(r"<[^<>\s]+>")

ChangeListener = Callable[["Mailbox", int, frozenset[str]], None]


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).decode("ascii")


def b64url_decode(text: str) -> bytes:
    text = text.strip()
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def normalize_subject(subject: str) -> str:
    return _WS.sub(" ", _SUBJECT_PREFIX.sub("", subject)).strip().lower()


def _bytes_text(data: bytes, charset: str | None) -> str:
    for cs in (charset, "utf-8"):
        if not cs:
            continue
        try:
            return data.decode(cs)
        except (LookupError, UnicodeDecodeError):
            continue
    return data.decode("latin-1")


def _clean(text: str) -> str:
    # compat32 parses bytes with surrogateescape; re-decode those bytes as UTF-8 (else latin-1)
    # so JSON carries real characters, never lone surrogates.
    if text.isascii():
        return text
    try:
        text.encode("utf-8")
        return text  # no lone surrogates
    except UnicodeEncodeError:
        pass
    data = text.encode("utf-8", "surrogateescape")
    return _bytes_text(data, "utf-8")


def decode_header_value(value: Any) -> str:
    """An RFC 2047-decoded, unfolded header value; never raises on broken charsets."""
    text = _clean(str(value))
    if "=?" in text:
        try:
            chunks = []
            for data, charset in decode_header(text):
                if isinstance(data, bytes):
                    chunks.append(_bytes_text(data, charset))
                else:
                    chunks.append(data)
            text = "".join(chunks)
        except (ValueError, AssertionError, LookupError):
            pass
    return _WS.sub(" ", text.replace("\r", "").replace("\n", "")).strip()


def _html_to_text(markup: str) -> str:
    tree = LexborHTMLParser(markup[:_HTML_CAP])
    for node in tree.css("script, style, head"):
        node.decompose()
    body = tree.body or tree.root
    return body.text(separator=" ") if body is not None else ""


@dataclass(slots=True)
class _Parsed:
    """What the renderer and the search need, derived once from the raw bytes."""

    headers: list[tuple[str, str]]
    search_text: str
    has_attachment: bool
    filenames: list[str]


@dataclass(slots=True)
class StoredMessage:
    id: str
    thread_id: str
    raw: bytes
    internal_date: int  # epoch ms
    label_ids: set[str]
    history_id: int
    message_id_header: str = ""
    subject: str = ""
    _parsed: _Parsed | None = None
    _snippet: str | None = None

    # --- lazily derived views -------------------------------------------------------------
    def mime(self) -> Message:
        return message_from_bytes(self.raw, policy=compat32)

    @property
    def parsed(self) -> _Parsed:
        if self._parsed is None:
            self._parsed = _parse(self.raw)
        return self._parsed

    @property
    def snippet(self) -> str:
        if self._snippet is None:
            self._snippet = snippet_of(self.raw)
        return self._snippet

    def header(self, name: str) -> str:
        lname = name.lower()
        for key, value in self.parsed.headers:
            if key.lower() == lname:
                return value
        return ""

    def ref(self) -> dict[str, Any]:
        return {"id": self.id, "threadId": self.thread_id}

    def ref_with_labels(self) -> dict[str, Any]:
        return {"id": self.id, "threadId": self.thread_id, "labelIds": sorted(self.label_ids)}

    def render(
        self, fmt: str = "full", metadata_headers: Iterable[str] | None = None
    ) -> dict[str, Any]:
        """The ``Message`` resource in the given format (full, metadata, minimal, raw)."""
        out: dict[str, Any] = {
            "id": self.id,
            "threadId": self.thread_id,
            "labelIds": sorted(self.label_ids),
            "snippet": self.snippet,
            "sizeEstimate": len(self.raw),
            "historyId": str(self.history_id),
            "internalDate": str(self.internal_date),
        }
        if fmt == "raw":
            out["raw"] = b64url(self.raw)
        elif fmt == "metadata":
            wanted = {h.lower() for h in metadata_headers or ()}
            headers = self.parsed.headers
            if wanted:
                headers = [(k, v) for k, v in headers if k.lower() in wanted]
            out["payload"] = {
                "mimeType": self.mime_type(),
                "headers": [{"name": k, "value": v} for k, v in headers],
            }
        elif fmt == "full":
            out["payload"] = _payload(self.mime(), "", self.id)
        return out

    def mime_type(self) -> str:
        for key, value in self.parsed.headers:
            if key.lower() == "content-type":
                return value.split(";", 1)[0].strip().lower() or "text/plain"
        return "text/plain"

    def attachment(self, attachment_id: str) -> bytes | None:
        try:
            message_id, part_id = b64url_decode(attachment_id).decode().split(":", 1)
        except (ValueError, UnicodeDecodeError):
            return None
        if message_id != self.id:
            return None
        part = _part_by_id(self.mime(), part_id)
        if part is None or part.is_multipart():
            return None
        data = part.get_payload(decode=True)
        return data if isinstance(data, bytes) else b""


def _attachment_id(message_id: str, part_id: str) -> str:
    return b64url(f"{message_id}:{part_id}".encode()).rstrip("=")


def _walk_with_ids(msg: Message, part_id: str = "") -> Iterator[tuple[str, Message]]:
    yield part_id, msg
    if msg.is_multipart():
        children = msg.get_payload()
        if isinstance(children, list):
            for i, child in enumerate(children):
                child_id = f"{part_id}.{i}" if part_id else str(i)
                yield from _walk_with_ids(child, child_id)


def _part_by_id(msg: Message, wanted: str) -> Message | None:
    for part_id, part in _walk_with_ids(msg):
        if part_id == wanted:
            return part
    return None


def _filename(part: Message) -> str:
    try:
        name = part.get_filename()
    except (ValueError, TypeError, LookupError):
        name = None
    return decode_header_value(name) if name else ""


def _payload(part: Message, part_id: str, message_id: str) -> dict[str, Any]:
    node: dict[str, Any] = {
        "partId": part_id,
        "mimeType": part.get_content_type(),
        "filename": _filename(part),
        "headers": [{"name": k, "value": decode_header_value(v)} for k, v in part.items()],
    }
    children = part.get_payload() if part.is_multipart() else None
    if isinstance(children, list):
        node["body"] = {"size": 0}
        node["parts"] = [
            _payload(child, f"{part_id}.{i}" if part_id else str(i), message_id)
            for i, child in enumerate(children)
        ]
        return node
    data = part.get_payload(decode=True)
    data = data if isinstance(data, bytes) else b""
    if node["filename"]:
        node["body"] = {"attachmentId": _attachment_id(message_id, part_id), "size": len(data)}
    elif data:
        node["body"] = {"size": len(data), "data": b64url(data)}
    else:
        node["body"] = {"size": 0}
    return node


def _body_text(msg: Message, cap: int) -> tuple[str, list[str]]:
    """(whitespace-collapsed text of the first text part, attachment file names)."""
    plain: str | None = None
    markup: str | None = None
    filenames: list[str] = []
    for part in msg.walk():
        if part.is_multipart():
            continue
        name = _filename(part)
        if name:
            filenames.append(name)
            continue
        ctype = part.get_content_type()
        if ctype not in ("text/plain", "text/html") or (plain is not None and markup is not None):
            continue
        data = part.get_payload(decode=True)
        if not isinstance(data, bytes):
            continue
        try:
            charset = part.get_content_charset()
        except (ValueError, LookupError):
            charset = None
        text = _bytes_text(data[:cap], charset)
        if ctype == "text/plain" and plain is None:
            plain = text
        elif ctype == "text/html" and markup is None:
            markup = text
    body = plain if plain is not None else (html.unescape(_html_to_text(markup)) if markup else "")
    return " ".join(body.split()), filenames


_CONTENT_TYPE = re.compile(rb"^content-type:[ \t]*((?:.*)(?:\r?\n[ \t].*)*)", re.I | re.M)
_CTE = re.compile(rb"^content-transfer-encoding:[ \t]*([\w-]+)", re.I | re.M)
_CHARSET = re.compile(rb'charset[ \t]*=[ \t]*"?([\w.:-]+)', re.I)


def _plain_snippet(raw: bytes) -> str | None:
    """Snippet of a single-part text/plain message without the MIME parser, else None.

    Most mail is one text/plain part; scanning its header block with three regexes is ~20x
    cheaper than ``email``'s feed parser, which matters because every ``get`` needs a snippet.
    """
    crlf, lf = raw.find(b"\r\n\r\n"), raw.find(b"\n\n")
    if crlf != -1 and (lf == -1 or crlf < lf):
        head, body = raw[:crlf], raw[crlf + 4 : crlf + 4 + 8 * SNIPPET_CHARS]
    elif lf != -1:
        head, body = raw[:lf], raw[lf + 2 : lf + 2 + 8 * SNIPPET_CHARS]
    else:
        return None
    ctype = _CONTENT_TYPE.search(head)
    if ctype is not None and not ctype.group(1).strip().lower().startswith(b"text/plain"):
        return None
    cte = _CTE.search(head)
    encoding = cte.group(1).lower() if cte else b"7bit"
    if encoding == b"quoted-printable":
        data = quopri.decodestring(body)
    elif encoding in (b"7bit", b"8bit", b"binary"):
        data = body
    else:
        return None  # base64 and friends: let the parser cope with truncation
    charset = _CHARSET.search(ctype.group(1)) if ctype else None
    text = _bytes_text(data, charset.group(1).decode("ascii") if charset else "us-ascii")
    return " ".join(text.split())[:SNIPPET_CHARS]


_SNIPPET_ESCAPES = str.maketrans(
    {"&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;"}
)


def snippet_of(raw: bytes) -> str:
    """Gmail's snippet: the first ~200 characters of the text, HTML-escaped as Gmail sends
    it (``&#39;``, ``&quot;``, ``&amp;``, ``&lt;``, ``&gt;``); clients unescape it.

    Only the first 64 KB are parsed: the first text part sits there in practice, and big
    attachments would otherwise dominate the cost of every ``get``.
    """
    fast = _plain_snippet(raw)
    if fast is None:
        msg = message_from_bytes(raw[:SNIPPET_SCAN_BYTES], policy=compat32)
        body, _files = _body_text(msg, 4 * SNIPPET_CHARS)
        fast = body[:SNIPPET_CHARS]
    return fast.translate(_SNIPPET_ESCAPES)


def _parse(raw: bytes) -> _Parsed:
    msg = message_from_bytes(raw, policy=compat32)
    headers = [(k, decode_header_value(v)) for k, v in msg.items()]
    body, filenames = _body_text(msg, SEARCH_TEXT_CHARS)
    header_text = " ".join(v for k, v in headers if k.lower() in ("subject", "from", "to", "cc"))
    return _Parsed(
        headers=headers,
        search_text=(header_text + " " + body)[:SEARCH_TEXT_CHARS].lower(),
        has_attachment=bool(filenames),
        filenames=filenames,
    )


@dataclass(slots=True)
class RawHeaders:
    """The few headers the store needs at insert time (threading and dates)."""

    message_id: str
    in_reply_to: list[str]
    references: list[str]
    subject: str
    date_ms: int | None


def read_headers(raw: bytes) -> RawHeaders:
    msg = BytesHeaderParser(policy=compat32).parsebytes(raw)
    date_ms: int | None = None
    date = msg.get("Date")
    if date:
        try:
            parsed = parsedate_to_datetime(_clean(str(date)))
            if parsed.tzinfo is not None:
                date_ms = int(parsed.timestamp() * 1000)
        except (TypeError, ValueError, IndexError, OverflowError):
            date_ms = None
    return RawHeaders(
        message_id=_clean(str(msg.get("Message-ID", "") or "")).strip(),
        in_reply_to=_MSGID.findall(_clean(str(msg.get("In-Reply-To", "") or ""))),
        references=_MSGID.findall(_clean(str(msg.get("References", "") or ""))),
        subject=decode_header_value(msg.get("Subject", "") or ""),
        date_ms=date_ms,
    )


@dataclass
class Label:
    id: str
    name: str
    type: str = "user"
    message_list_visibility: str | None = None
    label_list_visibility: str | None = None
    color: dict[str, str] | None = None

    def render(self) -> dict[str, Any]:
        out: dict[str, Any] = {"id": self.id, "name": self.name, "type": self.type}
        if self.message_list_visibility:
            out["messageListVisibility"] = self.message_list_visibility
        if self.label_list_visibility:
            out["labelListVisibility"] = self.label_list_visibility
        if self.color:
            out["color"] = self.color
        return out


@dataclass(slots=True)
class HistoryRecord:
    id: int
    at: float
    message_id: str
    thread_id: str
    label_ids: tuple[str, ...]
    added: bool = False
    deleted: bool = False
    labels_added: tuple[str, ...] = ()
    labels_removed: tuple[str, ...] = ()

    def types(self) -> set[str]:
        kinds = set()
        if self.added:
            kinds.add("messageAdded")
        if self.deleted:
            kinds.add("messageDeleted")
        if self.labels_added:
            kinds.add("labelAdded")
        if self.labels_removed:
            kinds.add("labelRemoved")
        return kinds

    def touches(self, label_id: str) -> bool:
        return (
            label_id in self.label_ids
            or label_id in self.labels_added
            or label_id in self.labels_removed
        )

    def render(self, types: set[str] | None = None) -> dict[str, Any]:
        ref = {"id": self.message_id, "threadId": self.thread_id}
        full = {**ref, "labelIds": list(self.label_ids)}
        out: dict[str, Any] = {"id": str(self.id), "messages": [ref]}
        want = types or set(HISTORY_TYPES)
        if self.added and "messageAdded" in want:
            out["messagesAdded"] = [{"message": full}]
        if self.deleted and "messageDeleted" in want:
            out["messagesDeleted"] = [{"message": full}]
        if self.labels_added and "labelAdded" in want:
            out["labelsAdded"] = [{"message": full, "labelIds": list(self.labels_added)}]
        if self.labels_removed and "labelRemoved" in want:
            out["labelsRemoved"] = [{"message": full, "labelIds": list(self.labels_removed)}]
        return out


def _encode_token(*parts: object) -> str:
    return b64url(":".join(str(p) for p in parts).encode()).rstrip("=")


def _decode_token(token: str, n: int) -> list[str]:
    try:
        parts = b64url_decode(token).decode().split(":")
    except (ValueError, UnicodeDecodeError) as exc:
        raise GoogleApiError(400, "Invalid pageToken", reason="invalidArgument") from exc
    if len(parts) != n:
        raise GoogleApiError(400, "Invalid pageToken", reason="invalidArgument")
    return parts


@dataclass
class Mailbox:
    email: str
    lock: threading.RLock = field(default_factory=threading.RLock)
    messages: dict[str, StoredMessage] = field(default_factory=dict)
    threads: dict[str, list[str]] = field(default_factory=dict)
    labels: dict[str, Label] = field(default_factory=dict)
    drafts: dict[str, str] = field(default_factory=dict)  # draft id -> message id
    history: list[HistoryRecord] = field(default_factory=list)
    history_id: int = 1000
    # A startHistoryId below this floor is older than the retained history (answers 404).
    history_floor: int = 1000
    history_max_records: int | None = 200_000
    history_max_age_s: float | None = 7 * 24 * 3600.0
    listeners: list[ChangeListener] = field(default_factory=list)
    # users.settings (sendAs, filters): owned by ``gmail_settings``.
    settings: dict[str, Any] = field(default_factory=dict)
    _order: list[tuple[int, str]] = field(default_factory=list)
    _by_msgid: dict[str, str] = field(default_factory=dict)
    _seq: int = 0
    _label_seq: int = 0
    _draft_seq: int = 0
    _sent_seq: int = 0

    def __post_init__(self) -> None:
        for name in SYSTEM_LABELS:
            self.labels[name] = Label(id=name, name=name, type="system")

    # --- ids --------------------------------------------------------------------------------
    def _new_message_id(self) -> str:
        self._seq += 1
        # Gmail ids are 16 hex digits that grow with time; a counter keeps them deterministic.
        return f"{0x18C0000000000000 + self._seq:016x}"

    # --- history ----------------------------------------------------------------------------
    def _record(self, msg: StoredMessage, **kind: Any) -> int:
        self.history_id += 1
        msg.history_id = self.history_id
        rec = HistoryRecord(
            id=self.history_id,
            at=time.time(),
            message_id=msg.id,
            thread_id=msg.thread_id,
            label_ids=tuple(sorted(msg.label_ids)),
            **kind,
        )
        self.history.append(rec)
        self._prune_history()
        touched = frozenset(rec.label_ids) | set(rec.labels_added) | set(rec.labels_removed)
        for listener in list(self.listeners):
            listener(self, self.history_id, touched)
        return self.history_id

    def _prune_history(self) -> None:
        cut = 0
        if self.history_max_records is not None and len(self.history) > self.history_max_records:
            cut = len(self.history) - self.history_max_records
        if self.history_max_age_s is not None and self.history:
            oldest_ok = time.time() - self.history_max_age_s
            while cut < len(self.history) and self.history[cut].at < oldest_ok:
                cut += 1
        if cut:
            self.history_floor = self.history[cut - 1].id
            del self.history[:cut]

    def expire_history(self) -> int:
        """Drop every record and move the floor past every id handed out so far."""
        with self.lock:
            self.history_id += 1
            self.history.clear()
            self.history_floor = self.history_id
            return self.history_id

    def list_history(
        self,
        start_history_id: int,
        *,
        history_types: Iterable[str] | None = None,
        label_id: str | None = None,
        page_token: str | None = None,
        max_results: int = 100,
    ) -> dict[str, Any]:
        with self.lock:
            if start_history_id < self.history_floor:
                raise GoogleApiError(404, "Requested entity was not found.", reason="notFound")
            after = start_history_id
            if page_token:
                after = max(after, int(_decode_token(page_token, 1)[0]))
            types = set(history_types or ()) or None
            ids = [r.id for r in self.history]
            i = bisect.bisect_right(ids, after)
            out: list[dict[str, Any]] = []
            last = after
            while i < len(self.history) and len(out) < max_results:
                rec = self.history[i]
                i += 1
                last = rec.id
                if types is not None and not (rec.types() & types):
                    continue
                if label_id is not None and not rec.touches(label_id):
                    continue
                out.append(rec.render(types))
            result: dict[str, Any] = {"historyId": str(self.history_id)}
            if out:
                result["history"] = out
            if i < len(self.history):
                result["nextPageToken"] = _encode_token(last)
            return result

    # --- messages ---------------------------------------------------------------------------
    def add_message(
        self,
        raw: bytes,
        *,
        label_ids: Iterable[str] = (),
        thread_id: str | None = None,
        internal_date: int | None = None,
        use_date_header: bool = False,
        headers: RawHeaders | None = None,
        auto_thread: bool = True,
    ) -> StoredMessage:
        """Store a message like Gmail's insert/import: thread it, index it, record history."""
        hdr = headers or read_headers(raw)
        labels = set(label_ids)
        with self.lock:
            self._check_labels(labels)
            if internal_date is None:
                internal_date = hdr.date_ms if use_date_header and hdr.date_ms else _clock.now_ms()
            msg_id = self._new_message_id()
            tid = self._thread_for(hdr, thread_id, auto_thread=auto_thread) or msg_id
            msg = StoredMessage(
                id=msg_id,
                thread_id=tid,
                raw=raw,
                internal_date=internal_date,
                label_ids=labels,
                history_id=self.history_id,
                message_id_header=hdr.message_id,
                subject=hdr.subject,
            )
            self.messages[msg_id] = msg
            thread = self.threads.setdefault(tid, [])
            thread.append(msg_id)
            thread.sort(key=lambda m: (self.messages[m].internal_date, m))
            bisect.insort(self._order, (internal_date, msg_id))
            if hdr.message_id:
                self._by_msgid.setdefault(hdr.message_id, msg_id)
            self._record(msg, added=True)
            return msg

    def _thread_for(
        self, hdr: RawHeaders, thread_id: str | None, *, auto_thread: bool = True
    ) -> str | None:
        """The thread a new message joins, or None for a new thread.

        With a ``threadId`` (an API caller asking to add to a thread) Google's three rules
        apply: the thread must exist (else 400), and the message joins it only when its
        ``References``/``In-Reply-To`` name a message of that thread AND the subjects match;
        otherwise Gmail starts a new thread and returns its id. Without a ``threadId``,
        ``send`` and drafts start a new thread (``auto_thread=False``); delivered or
        inserted mail is threaded by the same header-and-subject rule.
        """
        subject = normalize_subject(hdr.subject)
        if thread_id:
            members = self.threads.get(thread_id)
            if not members:
                raise GoogleApiError(400, "Invalid thread_id value", reason="invalidArgument")
            refs = {*hdr.in_reply_to, *hdr.references}
            for member_id in members:
                member = self.messages[member_id]
                if (
                    member.message_id_header in refs
                    and normalize_subject(member.subject) == subject
                ):
                    return thread_id
            return None
        if not auto_thread:
            return None
        # Gmail threads a message into a conversation only when it references a message of
        # this mailbox AND the subjects agree (a reply that changes the subject starts anew).
        for ref in [*hdr.in_reply_to, *reversed(hdr.references)]:
            parent_id = self._by_msgid.get(ref)
            if parent_id is None:
                continue
            parent = self.messages.get(parent_id)
            if parent is not None and normalize_subject(parent.subject) == subject:
                return parent.thread_id
        return None

    def get(self, message_id: str) -> StoredMessage:
        msg = self.messages.get(message_id)
        if msg is None:
            raise GoogleApiError(404, "Requested entity was not found.", reason="notFound")
        return msg

    def _check_labels(self, labels: Iterable[str]) -> None:
        for label in labels:
            if label not in self.labels:
                raise GoogleApiError(400, f"Invalid label: {label}", reason="invalidArgument")

    def _check_modifiable(self, add: set[str], remove: set[str]) -> None:
        """SENT, DRAFT and CHAT are applied by Gmail itself, never through modify."""
        self._check_labels(add | remove)
        for label in sorted((add | remove) & NOT_MODIFIABLE):
            raise GoogleApiError(400, f"Invalid label: {label}", reason="invalidArgument")

    def modify(
        self, message_id: str, add: Iterable[str] = (), remove: Iterable[str] = ()
    ) -> StoredMessage:
        with self.lock:
            msg = self.get(message_id)
            add_set, remove_set = set(add), set(remove)
            self._check_modifiable(add_set, remove_set)
            if "DRAFT" in msg.label_ids and (add_set or remove_set):
                raise GoogleApiError(
                    400, "Label modification on drafts is not allowed.", reason="invalidArgument"
                )
            self._apply(msg, add_set, remove_set)
            return msg

    def _apply(self, msg: StoredMessage, add: set[str], remove: set[str]) -> None:
        added = tuple(sorted(add - msg.label_ids))
        removed = tuple(sorted((remove - add) & msg.label_ids))
        if not added and not removed:
            return
        msg.label_ids |= set(added)
        msg.label_ids -= set(removed)
        self._record(msg, labels_added=added, labels_removed=removed)

    def batch_modify(
        self, message_ids: Iterable[str], add: Iterable[str] = (), remove: Iterable[str] = ()
    ) -> None:
        with self.lock:
            add_set, remove_set = set(add), set(remove)
            self._check_modifiable(add_set, remove_set)
            for message_id in message_ids:
                msg = self.messages.get(message_id)
                if msg is not None and "DRAFT" not in msg.label_ids:
                    self._apply(msg, add_set, remove_set)

    def trash(self, message_id: str) -> StoredMessage:
        with self.lock:
            msg = self.get(message_id)
            self._apply(msg, {"TRASH"}, {"INBOX", "SPAM"} & msg.label_ids)
            return msg

    def untrash(self, message_id: str) -> StoredMessage:
        with self.lock:
            msg = self.get(message_id)
            self._apply(msg, set(), {"TRASH"})
            return msg

    def delete(self, message_id: str) -> None:
        with self.lock:
            msg = self.get(message_id)
            del self.messages[message_id]
            thread = self.threads.get(msg.thread_id, [])
            if message_id in thread:
                thread.remove(message_id)
            if not thread:
                self.threads.pop(msg.thread_id, None)
            i = bisect.bisect_left(self._order, (msg.internal_date, msg.id))
            if i < len(self._order) and self._order[i] == (msg.internal_date, msg.id):
                del self._order[i]
            if self._by_msgid.get(msg.message_id_header) == message_id:
                del self._by_msgid[msg.message_id_header]
            for draft_id, draft_msg in list(self.drafts.items()):
                if draft_msg == message_id:
                    del self.drafts[draft_id]
            self._record(msg, deleted=True)

    # --- listing and search -----------------------------------------------------------------
    def _searchable(self, msg: StoredMessage) -> gquery.Searchable:
        return _SearchView(self, msg)

    def _visible(
        self, msg: StoredMessage, label_ids: set[str], node: gquery.Node | None, spam_trash: bool
    ) -> bool:
        if not label_ids <= msg.label_ids:
            return False
        if node is not None:
            return gquery.matches(node, self._searchable(msg), now_ms=_clock.now_ms())
        return spam_trash or not (msg.label_ids & {"SPAM", "TRASH"})

    def list_messages(
        self,
        *,
        q: str | None = None,
        label_ids: Iterable[str] = (),
        include_spam_trash: bool = False,
        page_token: str | None = None,
        max_results: int = 100,
    ) -> dict[str, Any]:
        want = set(label_ids)
        # Asking for SPAM or TRASH by label lists them, as in Gmail.
        include_spam_trash = include_spam_trash or bool(want & {"SPAM", "TRASH"})
        node = gquery.parse(q, include_spam_trash=include_spam_trash) if q else None
        with self.lock:
            end = len(self._order)
            if page_token:
                date, mid = _decode_token(page_token, 2)
                end = bisect.bisect_left(self._order, (int(date), mid))
            page: list[dict[str, str]] = []
            estimate = 0
            next_token: str | None = None
            for i in range(end - 1, -1, -1):
                msg = self.messages[self._order[i][1]]
                if not self._visible(msg, want, node, include_spam_trash):
                    continue
                estimate += 1
                if len(page) < max_results:
                    page.append(msg.ref())
                elif next_token is None:
                    last = self.messages[page[-1]["id"]]
                    next_token = _encode_token(last.internal_date, last.id)
            result: dict[str, Any] = {"resultSizeEstimate": estimate}
            if page:
                result["messages"] = page
            if next_token:
                result["nextPageToken"] = next_token
            return result

    def list_threads(
        self,
        *,
        q: str | None = None,
        label_ids: Iterable[str] = (),
        include_spam_trash: bool = False,
        page_token: str | None = None,
        max_results: int = 100,
    ) -> dict[str, Any]:
        want = set(label_ids)
        # Asking for SPAM or TRASH by label lists them, as in Gmail.
        include_spam_trash = include_spam_trash or bool(want & {"SPAM", "TRASH"})
        node = gquery.parse(q, include_spam_trash=include_spam_trash) if q else None
        with self.lock:
            end = len(self._order)
            cursor: tuple[int, str] | None = None
            if page_token:
                date, mid = _decode_token(page_token, 2)
                cursor = (int(date), mid)
                end = bisect.bisect_left(self._order, cursor)
            seen: set[str] = set()
            page: list[dict[str, str]] = []
            estimate = 0
            next_token: str | None = None
            last_key: tuple[int, str] | None = None
            # A thread is listed at the position of its newest matching message.
            for i in range(end - 1, -1, -1):
                msg = self.messages[self._order[i][1]]
                if msg.thread_id in seen or not self._visible(msg, want, node, include_spam_trash):
                    continue
                seen.add(msg.thread_id)
                if cursor is not None and self._listed_before(
                    msg.thread_id, cursor, want, node, include_spam_trash
                ):
                    continue
                estimate += 1
                if len(page) < max_results:
                    page.append(self._thread_summary(msg.thread_id))
                    last_key = self._order[i]
                elif next_token is None and last_key is not None:
                    next_token = _encode_token(*last_key)
            result: dict[str, Any] = {"resultSizeEstimate": estimate}
            if page:
                result["threads"] = page
            if next_token:
                result["nextPageToken"] = next_token
            return result

    def _listed_before(
        self,
        thread_id: str,
        cursor: tuple[int, str],
        want: set[str],
        node: gquery.Node | None,
        spam_trash: bool,
    ) -> bool:
        # A thread whose newest matching message sits above the cursor was on an earlier page.
        for mid in self.threads[thread_id]:
            m = self.messages[mid]
            if (m.internal_date, m.id) >= cursor and self._visible(m, want, node, spam_trash):
                return True
        return False

    def _thread_summary(self, thread_id: str) -> dict[str, Any]:
        ids = self.threads[thread_id]
        last = self.messages[ids[-1]]
        return {
            "id": thread_id,
            "snippet": last.snippet,
            "historyId": str(max(self.messages[m].history_id for m in ids)),
        }

    def get_thread(
        self, thread_id: str, fmt: str = "full", metadata_headers: Iterable[str] | None = None
    ) -> dict[str, Any]:
        with self.lock:
            ids = self.threads.get(thread_id)
            if not ids:
                raise GoogleApiError(404, "Requested entity was not found.", reason="notFound")
            msgs = [self.messages[m] for m in ids]
            headers = list(metadata_headers or ())
            return {
                "id": thread_id,
                "historyId": str(max(m.history_id for m in msgs)),
                "messages": [m.render(fmt, headers) for m in msgs],
            }

    def thread_message_ids(self, thread_id: str) -> list[str]:
        with self.lock:
            ids = self.threads.get(thread_id)
            if not ids:
                raise GoogleApiError(404, "Requested entity was not found.", reason="notFound")
            return list(ids)

    # --- labels -----------------------------------------------------------------------------
    def label_by_name(self, name: str) -> Label | None:
        lname = name.lower()
        for label in self.labels.values():
            if label.name.lower() == lname:
                return label
        return None

    def create_label(self, body: dict[str, Any]) -> Label:
        name = str(body.get("name") or "").strip()
        if not name:
            raise GoogleApiError(400, "Invalid label name", reason="invalidArgument")
        with self.lock:
            if self.label_by_name(name) is not None:
                raise GoogleApiError(
                    409, "Label name exists or conflicts", reason="failedPrecondition"
                )
            self._label_seq += 1
            label = Label(id=f"Label_{self._label_seq}", name=name)
            self._set_label_fields(label, body)
            self.labels[label.id] = label
            return label

    @staticmethod
    def _set_label_fields(label: Label, body: dict[str, Any]) -> None:
        if "messageListVisibility" in body:
            label.message_list_visibility = body["messageListVisibility"]
        if "labelListVisibility" in body:
            label.label_list_visibility = body["labelListVisibility"]
        if "color" in body:
            label.color = body["color"]

    def update_label(self, label_id: str, body: dict[str, Any], *, patch: bool) -> Label:
        with self.lock:
            label = self.get_label(label_id)
            if label.type == "system":
                raise GoogleApiError(
                    400, "Invalid update to system label", reason="invalidArgument"
                )
            name = body.get("name")
            if name is not None and name != label.name:
                other = self.label_by_name(str(name))
                if other is not None and other.id != label.id:
                    raise GoogleApiError(
                        409, "Label name exists or conflicts", reason="failedPrecondition"
                    )
                label.name = str(name)
            elif not patch and not name:
                raise GoogleApiError(400, "Invalid label name", reason="invalidArgument")
            self._set_label_fields(label, body)
            return label

    def get_label(self, label_id: str) -> Label:
        label = self.labels.get(label_id)
        if label is None:
            raise GoogleApiError(404, "Requested entity was not found.", reason="notFound")
        return label

    def label_counts(self, label_id: str) -> dict[str, int]:
        with self.lock:
            total = unread = 0
            threads: set[str] = set()
            unread_threads: set[str] = set()
            for msg in self.messages.values():
                if label_id in msg.label_ids:
                    total += 1
                    threads.add(msg.thread_id)
                    if "UNREAD" in msg.label_ids:
                        unread += 1
                        unread_threads.add(msg.thread_id)
            return {
                "messagesTotal": total,
                "messagesUnread": unread,
                "threadsTotal": len(threads),
                "threadsUnread": len(unread_threads),
            }

    def delete_label(self, label_id: str) -> None:
        with self.lock:
            label = self.get_label(label_id)
            if label.type == "system":
                raise GoogleApiError(
                    400, "Invalid delete of system label", reason="invalidArgument"
                )
            for msg in self.messages.values():
                if label_id in msg.label_ids:
                    self._apply(msg, set(), {label_id})
            del self.labels[label_id]

    # --- drafts -----------------------------------------------------------------------------
    def create_draft(self, raw: bytes, thread_id: str | None = None) -> tuple[str, StoredMessage]:
        with self.lock:
            self._draft_seq += 1
            draft_id = f"r{5000000000000000000 + self._draft_seq}"
            msg = self.add_message(raw, label_ids={"DRAFT"}, thread_id=thread_id, auto_thread=False)
            self.drafts[draft_id] = msg.id
            return draft_id, msg

    def draft(self, draft_id: str) -> StoredMessage:
        with self.lock:
            msg_id = self.drafts.get(draft_id)
            if msg_id is None:
                raise GoogleApiError(404, "Requested entity was not found.", reason="notFound")
            return self.messages[msg_id]

    def update_draft(self, draft_id: str, raw: bytes, thread_id: str | None) -> StoredMessage:
        with self.lock:
            old = self.draft(draft_id)
            keep = thread_id or (old.thread_id if old.thread_id != old.id else None)
            msg = self.add_message(raw, label_ids={"DRAFT"}, thread_id=keep, auto_thread=False)
            self.drafts[draft_id] = msg.id
            self.delete(old.id)
            self.drafts[draft_id] = msg.id
            return msg

    def delete_draft(self, draft_id: str) -> None:
        with self.lock:
            msg = self.draft(draft_id)
            self.delete(msg.id)
            self.drafts.pop(draft_id, None)

    def send_draft(self, draft_id: str, raw: bytes | None = None) -> StoredMessage:
        """Send: the draft disappears and a SENT message joins the draft's thread."""
        with self.lock:
            draft_msg = self.draft(draft_id)
            content = raw if raw is not None else draft_msg.raw
            thread_id = draft_msg.thread_id if draft_msg.thread_id != draft_msg.id else None
            self.delete_draft(draft_id)
            if thread_id not in self.threads:
                thread_id = None  # the rest of the thread was deleted meanwhile
            return self.send(content, thread_id=thread_id)

    def send(self, raw: bytes, thread_id: str | None = None) -> StoredMessage:
        """Send: Gmail assigns the Message-ID (whatever the client wrote) and labels SENT."""
        with self.lock:
            labels = {"SENT"}
            if self.email.lower() in _recipients(raw):
                labels |= {"INBOX", "UNREAD"}
            self._sent_seq += 1
            digest = hashlib.sha256(raw + str(self._sent_seq).encode()).hexdigest()[:40]
            raw = _set_message_id(raw, f"<CAEMU{digest}@mail.gmail.com>")
            return self.add_message(raw, label_ids=labels, thread_id=thread_id, auto_thread=False)

    def from_me(self, raw: bytes) -> bool:
        """Whether the message's From is the mailbox owner (insert labels it SENT)."""
        msg = BytesHeaderParser(policy=compat32).parsebytes(raw)
        senders = getaddresses([_clean(str(v)) for v in msg.get_all("From", [])])
        return any(addr.lower() == self.email.lower() for _name, addr in senders)

    def render_draft(self, draft_id: str, fmt: str | None = None) -> dict[str, Any]:
        with self.lock:
            msg = self.draft(draft_id)
            body = msg.render(fmt) if fmt else msg.ref_with_labels()
            return {"id": draft_id, "message": body}

    # --- profile ----------------------------------------------------------------------------
    def profile(self) -> dict[str, Any]:
        with self.lock:
            return {
                "emailAddress": self.email,
                "messagesTotal": len(self.messages),
                "threadsTotal": len(self.threads),
                "historyId": str(self.history_id),
            }


def _set_message_id(raw: bytes, message_id: str) -> bytes:
    """``raw`` with its Message-ID header replaced (or added) in the top header block."""
    eol = b"\r\n" if b"\r\n" in raw[: raw.find(b"\n") + 1] else b"\n"
    head, sep, body = raw.partition(eol + eol)
    lines = head.split(eol)
    kept: list[bytes] = []
    skipping = False
    for line in lines:
        if skipping and line[:1] in (b" ", b"\t"):
            continue
        skipping = line.lower().startswith(b"message-id:")
        if not skipping:
            kept.append(line)
    kept.append(b"Message-ID: " + message_id.encode("ascii"))
    return eol.join(kept) + (sep or eol + eol) + body


def _recipients(raw: bytes) -> set[str]:
    msg = BytesHeaderParser(policy=compat32).parsebytes(raw)
    values = [_clean(str(v)) for h in ("To", "Cc", "Bcc") for v in msg.get_all(h, [])]
    return {addr.lower() for _name, addr in getaddresses(values) if addr}


class _SearchView:
    """Adapts a stored message to the pure query evaluator."""

    __slots__ = ("_mailbox", "_msg")

    def __init__(self, mailbox: Mailbox, msg: StoredMessage) -> None:
        self._mailbox = mailbox
        self._msg = msg

    @property
    def internal_date_ms(self) -> int:
        return self._msg.internal_date

    def header(self, name: str) -> str:
        return self._msg.header(name).lower()

    @property
    def label_ids(self) -> set[str]:
        return self._msg.label_ids

    def has_label_named(self, name: str) -> bool:
        wanted = name.lower()
        for label_id in self._msg.label_ids:
            label = self._mailbox.labels.get(label_id)
            if label_id.lower() == wanted or (
                label is not None
                and label.name.lower().replace(" ", "-").replace("/", "-")
                == wanted.replace(" ", "-").replace("/", "-")
            ):
                return True
        return False

    @property
    def text(self) -> str:
        return self._msg.parsed.search_text

    @property
    def has_attachment(self) -> bool:
        return self._msg.parsed.has_attachment

    @property
    def filenames(self) -> list[str]:
        return self._msg.parsed.filenames

    @property
    def size(self) -> int:
        return len(self._msg.raw)

    @property
    def has_user_labels(self) -> bool:
        labels = self._mailbox.labels
        return any(
            (label := labels.get(label_id)) is not None and label.type == "user"
            for label_id in self._msg.label_ids
        )
