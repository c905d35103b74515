"""``parse_message``: raw RFC 822 bytes to a ``ParsedMessage``. Total: it never raises.

We parse with the stdlib's ``compat32`` policy, which builds the MIME tree without
interpreting headers (fast, and it does not raise on malformed headers), and decode every
header ourselves in ``headers.py``. ``policy.default`` would do the decoding for us but is
~10x slower and raises on real mail; the sync benchmark needs >= 4,000 messages/s here.
"""

from __future__ import annotations

import re
from email.message import Message
from email.parser import BytesParser
from email.policy import compat32

from secretary.mail.headers import (
    MAX_SUBJECT_CHARS,
    cap_subject,
    decode_bytes,
    decode_header_value,
    fix_surrogates,
    parse_addresses,
    parse_date,
    parse_msg_id,
    parse_msg_ids,
)
from secretary.mail.html_text import (
    MAX_HTML_CHARS,
    MAX_RAW_HTML_CHARS,
    flatten_deep_markup,
    html_to_text,
)
from secretary.mail.invites import parse_invite
from secretary.mail.schemas import (
    AttachmentMeta,
    CalendarInvite,
    ListUnsubscribe,
    ParsedMessage,
)

_PARSER = BytesParser(policy=compat32)

# Bodies beyond this are kept for nothing a person reads; capping keeps the quote splitter
# and the search indexer linear-time on pathological mail (e.g. a 767 KB quote chain).
MAX_TEXT_CHARS = 300_000

_BODY_TEXT_TYPES = frozenset({"text/plain", "text/enriched", "text/richtext"})
_CALENDAR_TYPES = frozenset({"text/calendar", "application/ics", "text/x-vcalendar"})
_BULK_PRECEDENCE = frozenset({"bulk", "list", "junk"})
_NEWLINES_RE = re.compile(r"\r\n?")


class _Walk:
    """Mutable state of one depth-first walk over the MIME tree."""

    __slots__ = ("attachments", "defects", "index", "invite")

    def __init__(self, defects: list[str]) -> None:
        self.index = 0
        self.attachments: list[AttachmentMeta] = []
        self.invite: CalendarInvite | None = None
        self.defects = defects


def _part_headers(part: Message) -> dict[str, str]:
    """Lower-cased header name to raw value (first occurrence) for one part: one pass here
    instead of a linear ``Message.get`` scan per lookup (several per part)."""
    headers: dict[str, str] = {}
    for name, value in part.raw_items():
        key = name.lower()
        if key not in headers:
            headers[key] = value if isinstance(value, str) else str(value)
    return headers


def _content_type(part: Message, headers: dict[str, str]) -> str:
    """``Message.get_content_type`` semantics (invalid means text/plain, a missing header
    means the parent's default) without re-scanning the headers."""
    value = headers.get("content-type")
    if value is None:
        return part.get_default_type()
    ctype = value.split(";", 1)[0].strip().lower()
    return ctype if ctype.count("/") == 1 else "text/plain"


def _param_filename(part: Message, headers: dict[str, str], defects: list[str]) -> str | None:
    ctype_raw = headers.get("content-type", "")
    disp_raw = headers.get("content-disposition", "")
    if "name" not in ctype_raw.lower() and "name" not in disp_raw.lower():
        return None  # no filename/name parameter: skip the (slow) stdlib parameter parser
    try:
        name = part.get_filename() or part.get_param("name")
    except Exception:  # broken RFC 2231 continuations
        defects.append("filename_unparseable")
        return None
    if isinstance(name, tuple):  # RFC 2231 (charset, language, value) left undecoded
        charset, _lang, value = name
        name = decode_bytes(value.encode("latin-1", "replace"), charset or "utf-8")
    if not name:
        return None
    decoded = decode_header_value(str(name), defects).strip()
    # Old clients send full paths ("C:\\TEMP\\ball.png"); a filename never names a folder,
    # and a path in it must not reach anything that writes files.
    decoded = decoded.replace("\\", "/").rsplit("/", 1)[-1].strip()
    return decoded or None


def _disposition(headers: dict[str, str]) -> str:
    value = headers.get("content-disposition")
    if not value:
        return ""
    return value.split(";", 1)[0].strip().lower()


def _payload_bytes(part: Message, defects: list[str]) -> bytes:
    try:
        data = part.get_payload(decode=True)
    except Exception:  # compat32 decodes leniently, but an unknown CTE can still trip it
        defects.append("payload_undecodable")
        raw = part.get_payload()
        return raw.encode("ascii", "surrogateescape") if isinstance(raw, str) else b""
    return data if isinstance(data, bytes) else b""


_CHARSET_RE = re.compile(r"""charset\s*=\s*["']?([^"';\s]+)""", re.IGNORECASE)


def _text_of(headers: dict[str, str], data: bytes, defects: list[str]) -> str:
    match = _CHARSET_RE.search(headers.get("content-type", ""))
    charset = match.group(1) if match else None
    return _NEWLINES_RE.sub("\n", decode_bytes(data, charset, defects))


def _walk(part: Message, state: _Walk, position: int = 0) -> tuple[list[str], list[str]]:
    """Return (plain bodies, html bodies) under ``part``; attachments go to ``state``.

    ``position`` is the part's index among its siblings: following JMAP (RFC 8621 4.1.4),
    a named inline text part after the first one is an attachment, not more body.
    """
    index = state.index
    state.index += 1
    for defect in part.defects:
        state.defects.append(type(defect).__name__)
    headers = _part_headers(part)
    ctype = _content_type(part, headers)
    payload = part.get_payload()

    if part.is_multipart() and isinstance(payload, list):
        if ctype == "message/rfc822" or ctype.startswith("message/"):
            inner = [m for m in payload if isinstance(m, Message)]
            return _message_attachment(part, inner, index, ctype, state)
        children = [child for child in payload if isinstance(child, Message)]
        results = [_walk(child, state, i) for i, child in enumerate(children)]
        if ctype == "multipart/alternative":
            plain: list[str] = next((p for p, _ in results if p), [])
            html: list[str] = next((h for _, h in reversed(results) if h), [])
            return plain, html
        return [t for p, _ in results for t in p], [t for _, h in results for t in h]

    disposition = _disposition(headers)
    filename = _param_filename(part, headers, state.defects)
    data = _payload_bytes(part, state.defects)

    if ctype in _CALENDAR_TYPES or (filename and filename.lower().endswith(".ics")):
        if state.invite is None:
            state.invite = parse_invite(data, state.defects)
        if filename or disposition == "attachment":
            _add_attachment(part, state, filename, ctype, len(data), index, disposition)
        return [], []

    if ctype.startswith("multipart/"):  # boundary missing: compat32 left the body as text
        ctype = "text/plain"
    is_body_type = ctype in _BODY_TEXT_TYPES or ctype == "text/html"
    is_attachment = (
        not is_body_type
        or disposition == "attachment"
        or (filename is not None and (disposition != "inline" or position > 0))
    )
    if is_attachment:
        _add_attachment(part, state, filename, ctype, len(data), index, disposition)
        return [], []
    text = _text_of(headers, data, state.defects)
    if ctype == "text/html":
        return [], [text]
    return [text], []


def _message_attachment(
    part: Message, payload: list[Message], index: int, ctype: str, state: _Walk
) -> tuple[list[str], list[str]]:
    """An attached message (forward as attachment): metadata only, not descended into."""
    filename = _param_filename(part, _part_headers(part), state.defects)
    inner = payload[0] if payload else None
    if filename is None and inner is not None:
        subject = decode_header_value(inner.get("Subject"), state.defects)
        filename = f"{subject or 'message'}.eml"
    try:
        size = len(inner.as_bytes(policy=compat32)) if inner is not None else 0
    except Exception:  # re-serializing a broken inner message can fail; size is advisory
        size = 0
        state.defects.append("attached_message_unserializable")
    _add_attachment(part, state, filename, ctype, size, index, _disposition(_part_headers(part)))
    return [], []


def _add_attachment(
    part: Message,
    state: _Walk,
    filename: str | None,
    ctype: str,
    size: int,
    index: int,
    disposition: str,
) -> None:
    content_id = parse_msg_id(part.get("Content-ID"))
    state.attachments.append(
        AttachmentMeta(
            filename=filename,
            mime_type=ctype,
            size=size,
            content_id=content_id,
            is_inline=disposition == "inline" or (disposition == "" and content_id is not None),
            part_index=index,
        )
    )


def _raw_headers(msg: Message) -> dict[str, str]:
    headers: dict[str, str] = {}
    for name, value in msg.raw_items():
        key = name.strip().lower()
        if key not in headers:
            headers[key] = fix_surrogates(value if isinstance(value, str) else str(value))
    return headers


_UNSUB_RE = re.compile(r"<([^<>]+)>")


def _parse_unsubscribe(value: str | None, post: str | None) -> ListUnsubscribe:
    if not value:
        return ListUnsubscribe()
    targets = _UNSUB_RE.findall(value) or [t.strip() for t in value.split(",")]
    mailto = [t.strip() for t in targets if t.strip().lower().startswith("mailto:")]
    urls = [t.strip() for t in targets if t.strip().lower().startswith(("https://", "http://"))]
    one_click = bool(post and "one-click" in post.lower() and urls)
    return ListUnsubscribe(mailto=mailto, urls=urls, one_click=one_click)


def _simple(value: str | None) -> str | None:
    if value is None:
        return None
    text = decode_header_value(value).strip()
    return text or None


def parse_message(raw: bytes) -> ParsedMessage:
    """Parse raw message bytes. Never raises: problems are listed in ``defects``."""
    if not isinstance(raw, bytes | bytearray | memoryview):
        raw = str(raw).encode("utf-8", "surrogateescape")
    raw = bytes(raw)
    defects: list[str] = []
    try:
        msg = _parse_single_part(raw) or _PARSER.parsebytes(raw)
        if msg.get_content_maintype() == "multipart" and not msg.is_multipart():
            msg = _reparse_with_unfolded_headers(raw, msg)
        return _build(msg, raw, defects)
    except Exception as exc:  # the contract is totality; record and degrade to raw text
        defects.append(f"parser_error:{type(exc).__name__}")
        text = decode_bytes(raw[:MAX_TEXT_CHARS], None)
        return _empty(raw, text, defects)


_HEADER_END_RE = re.compile(rb"\r?\n\r?\n")
# The stdlib feed parser's own header-line rule (email.feedparser.headerRE), on bytes.
_HEADER_FIELD_LINE_RE = re.compile(rb"[\041-\071\073-\176]+:")
_TREE_TYPES = ("multipart", "message", '"multipart', '"message')


def _parse_single_part(raw: bytes) -> Message | None:
    """A compat32 ``Message`` for plain single-part mail, built without the feed parser.

    The stdlib feeds every body line through its boundary logic even when there is no
    boundary; for single-part mail (most mail) that is half the parse time. We build the
    same object (same header values, same str payload) directly, and return None, letting
    the stdlib parse, for anything unusual: multipart/message types, an mbox "From " line,
    a header line the feed parser would not accept, or no blank line after the headers.
    """
    unixfrom = None
    if raw.startswith(b"From "):  # mbox separator line: the stdlib keeps it as unixfrom
        first_line_end = raw.find(b"\n")
        if first_line_end < 0:
            return None
        unixfrom = raw[:first_line_end].rstrip(b"\r").decode("ascii", "surrogateescape")
        raw = raw[first_line_end + 1 :]
    end = _HEADER_END_RE.search(raw)
    if end is None:
        return None
    head = raw[: end.start()]
    msg = Message(policy=compat32)
    name: bytes | None = None
    value: list[bytes] = []
    for line in head.split(b"\n"):
        if line[:1] in (b" ", b"\t"):
            if name is None:
                return None
            value.append(line)
            continue
        if not _HEADER_FIELD_LINE_RE.match(line):
            return None
        if name is not None:
            _set_raw_header(msg, name, value)
        name, _, first = line.partition(b":")
        value = [first.lstrip(b" \t")]
    if name is not None:
        _set_raw_header(msg, name, value)
    for key, header_value in msg.raw_items():
        if key.lower() == "content-type":
            if str(header_value).lstrip().lower().startswith(_TREE_TYPES):
                return None  # a MIME tree after all: the stdlib builds those
            break
    if unixfrom is not None:
        msg.set_unixfrom(unixfrom)
    msg.set_payload(raw[end.end() :].decode("ascii", "surrogateescape"))
    return msg


def _set_raw_header(msg: Message, name: bytes, lines: list[bytes]) -> None:
    # identical to compat32's header_source_parse: continuation lines keep their line
    # breaks, the trailing one is stripped
    value = b"\n".join(lines).rstrip(b"\r\n")
    msg.set_raw(name.decode("ascii", "surrogateescape"), value.decode("ascii", "surrogateescape"))


_RAW_FOLD_RE = re.compile(rb"\r?\n(?=[ \t])")


def _reparse_with_unfolded_headers(raw: bytes, msg: Message) -> Message:
    """Retry a multipart whose boundary was not found with its header block unfolded.

    The stdlib keeps the CRLF of a folded ``boundary="simple\\r\\n boundary"`` parameter, so
    no delimiter line ever matches; unfolding (RFC 5322 2.2.3) restores the real boundary.
    """
    end = _HEADER_END_RE.search(raw)
    if end is None:
        return msg
    unfolded = _RAW_FOLD_RE.sub(b"", raw[: end.start()]) + raw[end.start() :]
    retry = _PARSER.parsebytes(unfolded)
    return retry if retry.is_multipart() else msg


def _empty(raw: bytes, text: str, defects: list[str]) -> ParsedMessage:
    return ParsedMessage(
        message_id=None,
        in_reply_to=None,
        references=[],
        subject="",
        from_=[],
        to=[],
        cc=[],
        bcc=[],
        reply_to=[],
        date=None,
        text=text,
        html=None,
        _html_text="",
        attachments=[],
        calendar_invite=None,
        list_id=None,
        list_unsubscribe=None,
        unsubscribe=ListUnsubscribe(),
        precedence=None,
        auto_submitted=None,
        is_bulk=False,
        defects=defects,
        size=len(raw),
    )


def _build(msg: Message, raw: bytes, defects: list[str]) -> ParsedMessage:
    raw_headers = _raw_headers(msg)
    get = raw_headers.get

    state = _Walk(defects)
    plain_parts, html_parts = _walk(msg, state)

    plain = "\n\n".join(p.strip("\n") for p in plain_parts if p.strip())[:MAX_TEXT_CHARS]
    # Flattened before the cap: a nesting bomb must not push its text past the cap.
    html = (
        flatten_deep_markup("\n".join(html_parts)[:MAX_RAW_HTML_CHARS])[:MAX_HTML_CHARS]
        if html_parts
        else None
    )
    # The HTML is converted now only when it is the only body; otherwise on first access.
    html_text = None if plain.strip() else (html_to_text(html) if html else "")
    text = plain if html_text is None else html_text

    list_id_raw = _simple(get("list-id"))
    list_id = parse_msg_id(list_id_raw) if list_id_raw else None
    list_unsubscribe = _simple(get("list-unsubscribe"))
    unsubscribe = _parse_unsubscribe(list_unsubscribe, get("list-unsubscribe-post"))
    precedence = _simple(get("precedence"))
    precedence = precedence.lower() if precedence else None
    auto_submitted = _simple(get("auto-submitted"))
    auto_submitted = auto_submitted.lower() if auto_submitted else None
    is_bulk = bool(
        list_id
        or list_unsubscribe
        or (precedence in _BULK_PRECEDENCE)
        or (auto_submitted and not auto_submitted.startswith("no"))
    )
    if "from" not in raw_headers:
        defects.append("missing_from")

    return ParsedMessage(
        message_id=parse_msg_id(get("message-id")),
        in_reply_to=parse_msg_id(get("in-reply-to")),
        references=parse_msg_ids(get("references")),
        # Capped before decoding too: encoded words of a 2 MB subject are not worth reading.
        subject=cap_subject(
            decode_header_value((get("subject") or "")[: 16 * MAX_SUBJECT_CHARS], defects),
            defects,
        ),
        from_=parse_addresses(get("from"), defects),
        to=parse_addresses(get("to"), defects),
        cc=parse_addresses(get("cc"), defects),
        bcc=parse_addresses(get("bcc"), defects),
        reply_to=parse_addresses(get("reply-to"), defects),
        date=parse_date(get("date"), defects),
        text=text,
        html=html,
        _html_text=html_text,
        attachments=state.attachments,
        calendar_invite=state.invite,
        list_id=list_id,
        list_unsubscribe=list_unsubscribe,
        unsubscribe=unsubscribe,
        precedence=precedence,
        auto_submitted=auto_submitted,
        is_bulk=is_bulk,
        defects=defects,
        size=len(raw),
        headers=raw_headers,
    )


# An mbox "From " separator: start of file or after a blank line, "From <sender> <date>".
_MBOX_SEPARATOR_RE = re.compile(rb"(?:\A|(?<=\n\n)|(?<=\r\n\r\n))From [^\r\n]*\S[^\r\n]*\r?\n")


def is_mbox(data: bytes) -> bool:
    """Whether ``data`` looks like an mbox file (starts with a "From " separator line)."""
    return data.startswith(b"From ") and b"\n" in data[:1000] and b":" not in data[:5]


def split_mbox(data: bytes) -> list[bytes]:
    """Split an mbox file into raw messages (separator lines dropped, mboxrd ">From " unquoted)."""
    separators = list(_MBOX_SEPARATOR_RE.finditer(data))
    starts = [m.end() for m in separators]
    ends = [*(m.start() for m in separators[1:]), len(data)]
    messages = []
    for start, end in zip(starts, ends, strict=True):
        chunk = re.sub(rb"(?m)^>(>*From )", rb"\1", data[start:end])
        if chunk.strip():
            messages.append(chunk)
    return messages
