"""Header decoding: charsets, RFC 2047 encoded-words, addresses, dates, message ids.

Hand-rolled on purpose: the stdlib's ``policy.default`` header machinery is ~10x slower and
raises on real-world mail (27 SpamAssassin messages), while ``email.header.decode_header``
gives up on unknown charsets and on encoded-words split in the middle of a multi-byte
character. Every function here is total: it returns a best effort and, where the caller
passes a ``defects`` list, records what it had to repair.
"""

from __future__ import annotations

import base64
import binascii
import codecs
import re
from datetime import UTC, datetime, timedelta, timezone
from email.utils import getaddresses, parsedate_tz
from functools import lru_cache

from secretary.mail.schemas import Address

# Labels seen in the wild that Python's codec registry does not know, or knows under a
# narrower name than the mail actually uses (gb2312-labelled mail is routinely GBK/GB18030,
# ks_c_5601 is Microsoft's name for cp949).
_CHARSET_ALIASES = {
    "ks_c_5601-1987": "cp949",
    "ks_c_5601": "cp949",
    "euc-kr": "cp949",
    "gb2312": "gb18030",
    "gbk": "gb18030",
    "x-gbk": "gb18030",
    "iso-8859-8-i": "iso-8859-8",
    "windows-874": "cp874",
    "x-sjis": "shift_jis",
    "shift-jis": "shift_jis",
    "x-mac-roman": "mac_roman",
    "macintosh": "mac_roman",
    "iso-2022-jp-ms": "iso2022_jp_ext",
    "unicode-1-1-utf-7": "utf-7",
    "x-user-defined": "cp1252",
    "iso-8859-1": "cp1252",  # WHATWG: latin-1 labels mean windows-1252 in practice
    "latin1": "cp1252",
    "latin-1": "cp1252",
    "us-ascii": "utf-8",  # 8-bit bytes under an ascii label are almost always utf-8 or cp1252
    "ascii": "utf-8",
    "ansi_x3.4-1968": "utf-8",
    "default": "utf-8",
}

_UNKNOWN_CHARSETS = frozenset({"unknown-8bit", "x-unknown", "unknown", "8bit", "charset", ""})


@lru_cache(maxsize=256)
def resolve_charset(label: str | None) -> str | None:
    """Map a declared charset label to a Python codec name, or None when unusable."""
    if not label:
        return None
    name = label.strip().strip("\"'").lower()
    name = name.split("*", 1)[0]  # RFC 2231 language suffix: utf-8*en
    if name in _UNKNOWN_CHARSETS:
        return None
    name = _CHARSET_ALIASES.get(name, name)
    try:
        return codecs.lookup(name).name
    except LookupError:
        return None


def decode_bytes(data: bytes, charset: str | None, defects: list[str] | None = None) -> str:
    """Decode with the declared charset, then utf-8, then cp1252, then latin-1 (never fails).

    NUL characters are dropped: PostgreSQL text cannot hold them, and no reader needs them.
    """
    text = _decode_bytes(data, charset, defects)
    return text.replace("\x00", "") if "\x00" in text else text


def _decode_bytes(data: bytes, charset: str | None, defects: list[str] | None) -> str:
    codec = resolve_charset(charset)
    if codec is not None:
        try:
            return data.decode(codec)
        except UnicodeDecodeError:
            pass
        except LookupError:  # pragma: no cover - resolve_charset already looked it up
            pass
    elif charset and defects is not None and charset.strip().lower() not in _UNKNOWN_CHARSETS:
        defects.append("unknown_charset")
    if codec != "utf-8":
        try:
            return data.decode("utf-8")
        except UnicodeDecodeError:
            pass
    if defects is not None and charset:
        defects.append("charset_mismatch")
    try:
        return data.decode("cp1252")
    except UnicodeDecodeError:
        return data.decode("latin-1")


def fix_surrogates(value: str) -> str:
    """compat32 smuggles raw 8-bit header bytes as surrogate escapes; decode them for real
    (and drop NULs), so every string we hand out can be stored and encoded as UTF-8."""
    if value.isascii():
        return value.replace("\x00", "") if "\x00" in value else value
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        raw = value.encode("ascii", "surrogateescape")
        return decode_bytes(raw, "utf-8")
    return value.replace("\x00", "") if "\x00" in value else value


_FOLD_RE = re.compile(r"\r?\n(?=[ \t])")
_SPACE_RE = re.compile(r"\s+")
_COMMENT_RE = re.compile(r"\([^()]*\)")


def _unfold(value: str) -> str:
    """Unfold a raw header value; a newline that is not a fold ends the value (a header
    parser that lost a line break must not leak the next header into this one)."""
    if "\n" in value:
        value = _FOLD_RE.sub("", value)
        if "\n" in value:
            value = value.split("\n", 1)[0].rstrip("\r")
    return fix_surrogates(value)


_ENCODED_WORD_RE = re.compile(r"=\?([^?\s]+)\?([bBqQ])\?(.*?)\?=")
_QP_HEX_RE = re.compile(rb"=([0-9A-Fa-f]{2})")
_INTER_WORD_SPACE_RE = re.compile(r"\A[ \t\r\n]+\Z")


def _decode_q(text: str, charset: str) -> bytes:
    text = text.replace("_", " ")
    try:
        raw = text.encode("ascii")
    except UnicodeEncodeError:
        # Raw 8-bit inside an encoded-word (already decoded by _fix_surrogates): re-encode
        # in the word's own charset so the final decode round-trips.
        codec = resolve_charset(charset) or "utf-8"
        try:
            raw = text.encode(codec)
        except (UnicodeEncodeError, LookupError):
            raw = text.encode("utf-8", "surrogateescape")
    return _QP_HEX_RE.sub(lambda m: bytes([int(m.group(1), 16)]), raw)


def _decode_b(text: str) -> bytes:
    raw = text.strip().encode("ascii", "ignore")
    raw += b"=" * (-len(raw) % 4)
    try:
        return base64.b64decode(raw)
    except (binascii.Error, ValueError):
        try:
            return base64.b64decode(raw.rstrip(b"="), validate=False)
        except (binascii.Error, ValueError):
            return b""


def decode_header_value(value: str | None, defects: list[str] | None = None) -> str:
    """Unfold and decode a raw header value (RFC 2047 words, 8-bit bytes) to clean text.

    Adjacent encoded-words in the same charset are joined before decoding, because senders
    split multi-byte characters across words; whitespace between encoded-words is dropped
    as RFC 2047 section 6.2 requires.
    """
    if not value:
        return ""
    value = _unfold(value)
    if "=?" not in value:
        return (
            _SPACE_RE.sub(" ", value).strip() if "\t" in value or "  " in value else value.strip()
        )
    out: list[str] = []
    pos = 0
    pending_charset: str | None = None
    pending: bytearray = bytearray()

    def flush() -> None:
        nonlocal pending_charset
        if pending_charset is not None:
            out.append(decode_bytes(bytes(pending), pending_charset, defects))
            pending.clear()
            pending_charset = None

    for match in _ENCODED_WORD_RE.finditer(value):
        gap = value[pos : match.start()]
        if gap and not (pending_charset is not None and _INTER_WORD_SPACE_RE.match(gap)):
            flush()
            out.append(gap)
        charset, encoding, text = match.groups()
        data = _decode_b(text) if encoding in "bB" else _decode_q(text, charset)
        charset = charset.lower()
        if pending_charset is not None and charset != pending_charset:
            flush()
        pending_charset = charset
        pending.extend(data)
        pos = match.end()
    flush()
    out.append(value[pos:])
    return _SPACE_RE.sub(" ", "".join(out)).strip()


_ANGLE_RE = re.compile(r"<([^<>\s]+)>")


def parse_msg_id(value: str | None) -> str | None:
    """First message id in a header, without angle brackets (tolerates missing brackets)."""
    if not value:
        return None
    value = _unfold(value)
    match = _ANGLE_RE.search(value)
    if match:
        return match.group(1)
    token = value.strip().split()
    return token[0].strip("<>") if token else None


def parse_msg_ids(value: str | None) -> list[str]:
    """All message ids in References-like headers, in order, without duplicates."""
    if not value:
        return []
    value = _unfold(value)
    ids = _ANGLE_RE.findall(value)
    if not ids and "<" not in value:
        ids = [tok.strip(",") for tok in value.split()]
    seen: set[str] = set()
    result: list[str] = []
    for item in ids:
        if item and item not in seen:
            seen.add(item)
            result.append(item)
    return result


_SIMPLE_ADDRESS_RE = re.compile(
    r'^\s*(?:("[^"\\]*"|[^"<>,;:()\\\[\]]*?)\s*<([^<>@\s,;"()]+@[^<>@\s,;"()]+)>|<?([^<>@\s,;"()]+@[^<>@\s,;"()]+)>?)\s*$'
)


def parse_addresses(value: str | None, defects: list[str] | None = None) -> list[Address]:
    """Parse an address-list header tolerantly. Never raises; drops empty entries.

    Encoded-words are decoded *after* splitting, so a comma inside an encoded display name
    does not split one address into two.
    """
    if not value:
        return []
    value = _unfold(value)
    simple = _SIMPLE_ADDRESS_RE.match(value)
    if simple:  # fast path for the common single "Name <a@b>" / "a@b": getaddresses is slow
        name, email = simple.group(1) or "", simple.group(2) or simple.group(3)
        name = name.strip()
        if name.startswith('"') and name.endswith('"') and len(name) > 1:
            name = name[1:-1]
        name = decode_header_value(name, defects) if name else ""
        return [Address(name=_SPACE_RE.sub(" ", name).strip(), email=email)]
    try:
        pairs = getaddresses([value])
    except Exception:  # the stdlib parser has had several crash bugs on hostile input
        pairs = []
        if defects is not None:
            defects.append("address_parse_error")
    result: list[Address] = []
    for name, email in pairs:
        if not name and not email:
            continue
        email = email.strip().strip("<>").strip()
        name = decode_header_value(name, defects).strip().strip("\"'").strip()
        name = _SPACE_RE.sub(" ", name)
        if email and "@" not in email and not name and " " in email:
            name, email = email, ""
        result.append(Address(name=name, email=email))
    if not result and value.strip() and defects is not None:
        defects.append("address_unparseable")
    return result


_MIN_YEAR = 1900
_MAX_YEAR = 2200
_TZ_NAMES = {"CEST": 2, "CET": 1, "BST": 1, "IST": 5.5, "JST": 9, "KST": 9, "HKT": 8, "SGT": 8}
_ZONE_AFTER_TIME_RE = re.compile(r"\d{1,2}:\d{2}(?::\d{2})?\s*([+-]\d{2,4}|[A-Za-z]{1,5}\b)?")
_UTC_ZONE_RE = re.compile(r"[+-]0{2,4}|GMT|UTC?|Z", re.IGNORECASE)


def parse_date(value: str | None, defects: list[str] | None = None) -> datetime | None:
    """RFC 5322 date (and the usual deviations) to an aware UTC datetime, or None.

    A date with no zone is read as UTC and noted as a defect.
    """
    if not value:
        return None
    text = _unfold(value).strip()
    if "(" in text:  # RFC 5322 comments, possibly nested, may sit anywhere in a date
        for _ in range(3):
            text = _COMMENT_RE.sub(" ", text)
    if not text:
        return None
    try:
        parts = parsedate_tz(text)
    except Exception:  # parsedate_tz raised on some malformed input in older Pythons
        parts = None
    if parts is None:
        fallback = _parse_date_leniently(text)
        if fallback is None and defects is not None:
            defects.append("date_unparseable")
        elif defects is not None:
            defects.append("date_nonstandard")
        return fallback
    year, month, day, hour, minute, second = parts[:6]
    offset = parts[9]
    if not offset:
        # the stdlib reports 0 both for "+0000" and for a missing or unknown zone
        zone = _ZONE_AFTER_TIME_RE.search(text)
        token = zone.group(1) if zone else None
        if token and token.upper() in _TZ_NAMES:
            offset = int(_TZ_NAMES[token.upper()] * 3600)
        elif token is None or not _UTC_ZONE_RE.fullmatch(token):
            offset = 0
            if defects is not None:
                defects.append("date_without_zone")
    try:
        tz = timezone(timedelta(seconds=offset or 0)) if offset else UTC
        result = datetime(year, month, day, hour, minute, min(second, 59), tzinfo=tz)
    except (ValueError, OverflowError):
        if defects is not None:
            defects.append("date_out_of_range")
        return None
    if not _MIN_YEAR <= result.year <= _MAX_YEAR:
        if defects is not None:
            defects.append("date_out_of_range")
        return None
    return result.astimezone(UTC)


_DATE_LIKE_RE = re.compile(
    r"(?<!\d)(?:\d{4}[-/.]\d{1,2}[-/.]\d{1,2}|\d{1,2}[-/.]\d{1,2}[-/.]\d{4})(?!\d)"
)


def _parse_date_leniently(text: str) -> datetime | None:
    """Last resort for non-RFC dates ("2002/09/14 Sat 02:29:32 CDT", "12-06-2023"): dateparser,
    imported lazily (it is slow to import) and only for strings holding a numeric date, so
    free text like "Whenever" stays unparsed instead of being guessed."""
    if len(text) > 100 or not _DATE_LIKE_RE.search(text):
        return None
    import warnings

    import dateparser

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            parsed = dateparser.parse(
                text,
                settings={
                    "RETURN_AS_TIMEZONE_AWARE": True,
                    "TO_TIMEZONE": "UTC",
                    "TIMEZONE": "UTC",
                },
            )
        except Exception:  # dateparser raises assorted errors on odd input
            return None
    if not isinstance(parsed, datetime) or not _MIN_YEAR <= parsed.year <= _MAX_YEAR:
        return None
    return parsed.astimezone(UTC)


_SUBJECT_PREFIX_RE = re.compile(
    r"""^\s*(?:
        (?:re|fw|fwd|aw|wg|sv|vs|ant|tr|rif|enc|odp|pd|r|res|antw|doorst|vb|ynt|atb|rv|rép|réf|回复|回覆|答复|转发|轉寄|返信|転送)
        \s*(?:\[\d+\]|\(\d+\))?\s*[:：]
      | \[[^\]]{1,60}\]
    )\s*""",
    re.IGNORECASE | re.VERBOSE,
)


def normalize_subject(subject: str | None) -> str:
    """Strip reply/forward prefixes in many languages and ``[list]`` tags, repeatedly.

    ``"Re: AW: [dev] Fwd: Plan"`` becomes ``"Plan"``. Used for threading fallbacks and for
    building "Re:" subjects of drafts.
    """
    if not subject:
        return ""
    text = _SPACE_RE.sub(" ", subject).strip()
    while True:
        stripped = _SUBJECT_PREFIX_RE.sub("", text, count=1)
        if stripped == text or not stripped:
            break
        text = stripped
    return text.strip()


# RFC 5322 2.1.1: a line is at most 998 characters. No real subject is longer; a 2 MB one
# is an attack on storage, prompts and the "Re:" of a reply (the original stays in Gmail).
MAX_SUBJECT_CHARS = 998


def cap_subject(subject: str, defects: list[str] | None = None) -> str:
    if len(subject) <= MAX_SUBJECT_CHARS:
        return subject
    if defects is not None:
        defects.append("subject_truncated")
    return subject[:MAX_SUBJECT_CHARS]
