"""Mail parsing: pure functions from raw RFC 822/MIME bytes to a normalized ``ParsedMessage``.

Owns header decoding (RFC 2047, broken charsets), addresses, dates, body selection, HTML to
text and sanitizing, reply/quote/signature splitting, attachment metadata, calendar invites,
list headers and reference-based threading. No I/O, no database, no network: callers
(sync, triage, drafting) load bytes and persist results.
"""

from secretary.mail.headers import normalize_subject
from secretary.mail.html_text import html_to_text, sanitize_html
from secretary.mail.mime import parse_message, split_mbox
from secretary.mail.quoting import split_reply
from secretary.mail.schemas import (
    Address,
    AttachmentMeta,
    CalendarInvite,
    ListUnsubscribe,
    ParsedMessage,
    ReplySplit,
)
from secretary.mail.threading import ThreadHeaders, assign_threads

__all__ = [
    "Address",
    "AttachmentMeta",
    "CalendarInvite",
    "ListUnsubscribe",
    "ParsedMessage",
    "ReplySplit",
    "ThreadHeaders",
    "assign_threads",
    "html_to_text",
    "normalize_subject",
    "parse_message",
    "sanitize_html",
    "split_mbox",
    "split_reply",
]
