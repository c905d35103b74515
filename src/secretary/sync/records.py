"""Pure conversion of Gmail API resources into rows for ``messages`` and ``attachments``.

``messages.get(format=raw)`` hands us the RFC 822 bytes; ``threads.get`` only offers the
``full`` payload tree, so ``payload_to_raw`` rebuilds equivalent MIME from it (headers kept,
leaf bodies re-encoded as base64) and both go through the one parser.
"""

from __future__ import annotations

import base64
import html
import uuid
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from secretary.kit.clock import from_epoch_ms
from secretary.mail import ParsedMessage, parse_message

_SKIP_LEAF_HEADERS = frozenset({"content-transfer-encoding"})


def _b64url(data: str) -> bytes:
    return base64.urlsafe_b64decode(data + "=" * (-len(data) % 4))


def clean(value: str | None) -> str | None:
    """PostgreSQL text cannot hold NUL; real mail sometimes does."""
    if value is None:
        return None
    return value.replace("\x00", "") if "\x00" in value else value


def payload_to_raw(payload: dict[str, Any]) -> bytes:
    """RFC 822 bytes equivalent to a ``format=full`` payload tree (attachment bodies that
    Gmail serves by ``attachmentId`` stay empty: we keep metadata only)."""
    out: list[bytes] = []
    _render_part(payload, out)
    return b"".join(out)


def _render_part(part: dict[str, Any], out: list[bytes]) -> None:
    headers = part.get("headers") or []
    mime_type = str(part.get("mimeType") or "text/plain")
    children = part.get("parts") or []
    if mime_type.startswith("multipart/"):
        boundary = f"=_secretary_{uuid.uuid4().hex}"
        for h in headers:
            if h["name"].lower() == "content-type":
                continue
            out.append(f"{h['name']}: {h['value']}\r\n".encode("utf-8", "surrogateescape"))
        out.append(f'Content-Type: {mime_type}; boundary="{boundary}"\r\n\r\n'.encode())
        for child in children:
            out.append(f"--{boundary}\r\n".encode())
            _render_part(child, out)
            out.append(b"\r\n")
        out.append(f"--{boundary}--\r\n".encode())
        return
    for h in headers:
        if h["name"].lower() in _SKIP_LEAF_HEADERS:
            continue
        out.append(f"{h['name']}: {h['value']}\r\n".encode("utf-8", "surrogateescape"))
    data = (part.get("body") or {}).get("data")
    body = _b64url(data) if data else b""
    out.append(b"Content-Transfer-Encoding: base64\r\n\r\n")
    out.append(base64.encodebytes(body))


@dataclass
class MessageRecord:
    """One fetched message: the ``messages`` row values and its attachments."""

    gmail_id: str
    thread_id: str
    row: dict[str, Any]
    attachments: list[dict[str, Any]] = field(default_factory=list)


# Headers the local triage tier reads beyond the columns (issue 13), by their key in
# ``messages.triage_headers``. The parser keeps the first occurrence of each header, i.e.
# the topmost: for Authentication-Results and Received-SPF that is the one the user's own
# provider added on receipt; any below it came with the message and may be forged.
TRIAGE_HEADERS = {
    "authentication-results": "authentication_results",
    "received-spf": "received_spf",
    "list-unsubscribe-post": "list_unsubscribe_post",
    "x-mailer": "x_mailer",
}
# Gmail's own Authentication-Results runs to some 400 characters with the DMARC verdict
# last; a longer value is padding, and the cap keeps a hostile header out of the row.
MAX_TRIAGE_HEADER_CHARS = 1_000


def triage_headers(parsed: ParsedMessage) -> dict[str, str] | None:
    """The headers of ``TRIAGE_HEADERS`` that ``parsed`` has, unfolded and capped."""
    found = {}
    for name, key in TRIAGE_HEADERS.items():
        value = parsed.headers.get(name)
        if value is None:
            continue
        unfolded = " ".join((clean(value) or "").split())[:MAX_TRIAGE_HEADER_CHARS]
        if unfolded:
            found[key] = unfolded
    return found or None


def _emails(addresses: list[Any]) -> list[str]:
    return [clean(a.email) or "" for a in addresses if a.email]


def record_from_resource(
    resource: dict[str, Any], *, raw: bytes | None = None, fetched_at: datetime
) -> MessageRecord:
    """Build the row for a ``messages.get`` (raw) or one message of a ``threads.get``."""
    if raw is None:
        if "raw" in resource:
            raw = _b64url(resource["raw"])
        else:
            raw = payload_to_raw(resource.get("payload") or {})
    parsed: ParsedMessage = parse_message(raw)
    sender = parsed.from_[0] if parsed.from_ else None
    internal = resource.get("internalDate")
    row: dict[str, Any] = {
        "gmail_id": resource["id"],
        "gmail_thread_id": resource.get("threadId") or resource["id"],
        "history_id": int(resource["historyId"]) if resource.get("historyId") else None,
        "internal_date": from_epoch_ms(internal) if internal else parsed.date,
        "label_ids": list(resource.get("labelIds") or []),
        "size_estimate": resource.get("sizeEstimate") or parsed.size,
        # Gmail sends snippets HTML-escaped (&#39;, &amp;, ...); the store keeps text.
        "snippet": clean(html.unescape(resource["snippet"]) if resource.get("snippet") else None),
        "message_id_header": clean(parsed.message_id),
        "in_reply_to": clean(parsed.in_reply_to),
        "references": [clean(r) or "" for r in parsed.references],
        "subject": clean(parsed.subject),
        "from_name": clean(sender.name) if sender else None,
        "from_addr": clean(sender.email) if sender else None,
        "to_addrs": _emails(parsed.to),
        "cc_addrs": _emails(parsed.cc),
        "reply_to": clean(parsed.reply_to[0].email) if parsed.reply_to else None,
        "sent_at": parsed.date,
        "list_id": clean(parsed.list_id),
        "list_unsubscribe": clean(parsed.list_unsubscribe),
        "precedence": clean(parsed.precedence)[:64] if parsed.precedence else None,  # type: ignore[index]
        "auto_submitted": clean(parsed.auto_submitted)[:64] if parsed.auto_submitted else None,  # type: ignore[index]
        "triage_headers": triage_headers(parsed),
        "body_text": clean(parsed.text),
        "reply_text": clean(parsed.reply),
        "signature": clean(parsed.signature),
        "has_attachments": any(not a.is_inline for a in parsed.attachments),
        "has_calendar_invite": parsed.calendar_invite is not None,
        "parse_defects": [clean(d) for d in parsed.defects] or None,
        "body_fetched_at": fetched_at,
    }
    attachments = [
        {
            "filename": clean(a.filename),
            "mime_type": (clean(a.mime_type) or "application/octet-stream")[:255],
            "size": a.size,
            "content_id": clean(a.content_id),
        }
        for a in parsed.attachments
    ]
    return MessageRecord(resource["id"], row["gmail_thread_id"], row, attachments)


def records_from_resources(
    resources: list[dict[str, Any]], fetched_at: datetime
) -> list[MessageRecord]:
    """Parse a batch (top-level and picklable: it may run in a parsing process)."""
    return [record_from_resource(r, fetched_at=fetched_at) for r in resources]
