"""Mail parsing: pure functions from raw RFC 822/MIME bytes to a normalized ``ParsedMessage``.

Owns header decoding (RFC 2047, broken charsets), addresses, dates, body selection, HTML to
text and sanitizing, reply/quote/signature splitting, attachment metadata, calendar invites,
list headers and reference-based threading. No I/O, no database, no network: callers
(sync, triage, drafting) load bytes and persist results.
"""

from secretary.mail.mime import parse_message
from secretary.mail.schemas import (
    Address,
    AttachmentMeta,
    CalendarInvite,
    ParsedMessage,
    ReplySplit,
)

__all__ = [
    "Address",
    "AttachmentMeta",
    "CalendarInvite",
    "ParsedMessage",
    "ReplySplit",
    "parse_message",
]
