"""Who a reply goes to, and its threading headers. Pure.

Reply-all only when the user was addressed together with others (To/Cc holding someone
besides the user and the sender); otherwise reply to the sender (``Reply-To`` wins).
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from email.utils import getaddresses

from secretary.mail.headers import MAX_SUBJECT_CHARS

_RE_PREFIX = re.compile(r"^\s*(re|aw|sv|antw|r)\s*:\s*", re.IGNORECASE)


@dataclass(frozen=True)
class ReplyEnvelope:
    to: list[str]
    cc: list[str]
    subject: str
    in_reply_to: str | None
    references: list[str]


def reply_subject(subject: str | None) -> str:
    """``Re: <subject>``, never longer than a header line may be (RFC 5322: 998)."""
    subject = (subject or "")[:MAX_SUBJECT_CHARS].strip()
    if _RE_PREFIX.match(subject):
        subject = _RE_PREFIX.sub("", subject, count=1)
    return f"Re: {subject}"[:MAX_SUBJECT_CHARS] if subject else "Re:"


def _msgid(value: str | None) -> str | None:
    """``<id@host>``: stores may keep Message-IDs without brackets; the headers need them."""
    if not value or not value.strip():
        return None
    value = value.strip()
    return value if value.startswith("<") else f"<{value.strip('<>')}>"


def _addresses(values: Iterable[str | None]) -> list[str]:
    out: list[str] = []
    for _name, addr in getaddresses([v for v in values if v]):
        addr = addr.strip()
        if addr and "@" in addr and addr.lower() not in {a.lower() for a in out}:
            out.append(addr)
    return out


def build_reply(
    *,
    user_email: str,
    from_addr: str | None,
    reply_to: str | None,
    to: Sequence[str],
    cc: Sequence[str],
    subject: str | None,
    message_id_header: str | None,
    references: Sequence[str],
    user_aliases: Sequence[str] = (),
) -> ReplyEnvelope:
    me = {user_email.lower(), *(a.lower() for a in user_aliases)}
    reply_targets = _addresses([reply_to]) or _addresses([from_addr])
    if reply_targets and all(a.lower() in me for a in reply_targets):
        # The user's own message (e.g. a follow-up they sent): answer its recipients.
        reply_targets = [a for a in _addresses(to) if a.lower() not in me]
    primary = {a.lower() for a in reply_targets}
    others = [a for a in _addresses([*to, *cc]) if a.lower() not in me and a.lower() not in primary]
    sender = (from_addr or "").lower()
    others = [a for a in others if a.lower() != sender]
    refs = [m for m in (_msgid(r) for r in references) if m]
    parent = _msgid(message_id_header)
    if parent and parent not in refs:
        refs.append(parent)
    return ReplyEnvelope(
        to=reply_targets,
        cc=others,  # empty unless the user shared the message with other people
        subject=reply_subject(subject),
        in_reply_to=parent,
        references=refs,
    )
