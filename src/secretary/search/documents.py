"""What gets indexed for each item, and how long texts are chunked. Pure: values in, values out.

A message is indexed by its subject, sender and recipients (with display names), the new
text of its body (``reply_text``: the quoted history is the earlier messages' text, indexed
there already), attachment names, labels and date. Events and files follow the same shape.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass, field
from datetime import datetime

from secretary.search.query import Kind

# The embedder reads 64 word pieces (~250 characters of English); a chunk a little longer
# than that loses only its tail, and each extra chunk is one more ~4 ms embedding.
CHUNK_CHARS = 320
CHUNK_OVERLAP = 40
MAX_CHUNKS = 4  # chunk 0 (the classification vector) + up to 3 more of the body
MAX_LEXICAL_CHARS = 200_000  # BM25 needs no more of a giant export to find it

KEY_PREFIX: dict[str, str] = {"email": "m", "event": "e", "file": "f"}
SPAM_LABEL = "SPAM"
TRASH_LABEL = "TRASH"


def item_key(kind: str, source_id: int) -> str:
    """The one identity of an item in every index: ``m:123`` (a ``messages.id``)."""
    return f"{KEY_PREFIX[kind]}:{source_id}"


def parse_key(key: str) -> tuple[Kind, int]:
    prefix, _, number = key.partition(":")
    kind = {v: k for k, v in KEY_PREFIX.items()}[prefix]
    return kind, int(number)  # type: ignore[return-value]


def text_digest(text: str) -> str:
    return hashlib.blake2b(text.encode("utf-8", "replace"), digest_size=16).hexdigest()


@dataclass
class SearchDocument:
    """One item as the lexical index stores it (fields mirror ``lexical.SCHEMA``)."""

    kind: Kind
    source_id: int
    external_id: str
    title: str
    body: str
    people: list[str] = field(default_factory=list)  # "Name <addr>" of everyone involved
    sender: str = ""
    recipients: list[str] = field(default_factory=list)
    labels: list[str] = field(default_factory=list)  # lower-case ids and names
    attachments: list[str] = field(default_factory=list)
    at: datetime | None = None
    thread: str = ""
    flags: list[str] = field(default_factory=list)  # attachment, unread, starred, spam, trash

    @property
    def key(self) -> str:
        return item_key(self.kind, self.source_id)


def label_terms(label_ids: list[str], names: dict[str, str]) -> list[str]:
    """Each label as ``label:`` may name it: its id, its name, and the name with ``-``."""
    terms: set[str] = set()
    for label_id in label_ids:
        terms.add(label_id.lower())
        name = names.get(label_id)
        if name:
            terms.add(name.lower())
            terms.add(re.sub(r"[\s/]+", "-", name.lower()))
    return sorted(terms)


def message_flags(label_ids: list[str], has_attachments: bool) -> list[str]:
    flags = []
    if has_attachments:
        flags.append("attachment")
    if "UNREAD" in label_ids:
        flags.append("unread")
    if "STARRED" in label_ids:
        flags.append("starred")
    if SPAM_LABEL in label_ids:
        flags.append("spam")
    if TRASH_LABEL in label_ids:
        flags.append("trash")
    if "INBOX" in label_ids:
        flags.append("inbox")
    if "SENT" in label_ids:
        flags.append("sent")
    return flags


def person(name: str | None, addr: str | None) -> str:
    return " ".join(p for p in (name or "", f"<{addr}>" if addr else "") if p)


def chunk_text(text: str, *, size: int = CHUNK_CHARS, overlap: int = CHUNK_OVERLAP) -> list[str]:
    """Split on whitespace into windows of about ``size`` characters that overlap a little."""
    text = " ".join(text.split())
    if len(text) <= size:
        return [text] if text else []
    chunks: list[str] = []
    start = 0
    while start < len(text):
        end = min(len(text), start + size)
        if end < len(text):
            space = text.rfind(" ", start + size // 2, end)
            end = space if space > start else end
        chunks.append(text[start:end].strip())
        if end >= len(text):
            break
        start = max(end - overlap, start + 1)
        while start < len(text) and start > 0 and text[start - 1] != " ":
            start += 1  # begin on a word
    return [c for c in chunks if c]


def vector_texts(first: str, body: str, *, max_chunks: int = MAX_CHUNKS) -> list[str]:
    """The texts embedded for an item: ``first`` (for mail: exactly what classification
    embeds, so its stored vector is reused) then body chunks past what ``first`` covers."""
    # The embedder reads only ~64 word pieces of ``first`` (about one chunk of the body):
    # the body's later chunks are what it did not see.
    rest = chunk_text(body)
    return [first, *rest[1:max_chunks]]


def attendee_people(attendees: list[dict[str, object]]) -> list[str]:
    out = []
    for attendee in attendees or []:
        name = str(attendee.get("displayName") or "")
        email = str(attendee.get("email") or "")
        if name or email:
            out.append(person(name, email))
    return out


def drive_path(google_id: str, folders: dict[str, tuple[str, list[str]]]) -> str:
    """``Folder/Sub`` of a file from its parents' names (``folders``: id -> (name, parents))."""
    names: list[str] = []
    seen: set[str] = set()
    current = folders.get(google_id, ("", []))[1]
    while current and current[0] not in seen and len(names) < 32:
        seen.add(current[0])
        name, parents = folders.get(current[0], ("", []))
        if not name:
            break
        names.append(name)
        current = parents
    return "/".join(reversed(names))
