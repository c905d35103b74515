"""Value types produced by the parser.

Frozen slotted dataclasses rather than pydantic models: the sync path builds thousands of
these per second and validation would only re-check what the parser just produced.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime


@dataclass(frozen=True, slots=True)
class Address:
    name: str
    email: str

    def __str__(self) -> str:
        return f"{self.name} <{self.email}>" if self.name else self.email


@dataclass(frozen=True, slots=True)
class AttachmentMeta:
    filename: str | None
    mime_type: str
    size: int  # decoded bytes
    content_id: str | None
    is_inline: bool
    part_index: int  # depth-first index of the MIME part (0 = root)


@dataclass(frozen=True, slots=True)
class CalendarInvite:
    method: str | None  # REQUEST / CANCEL / REPLY / PUBLISH ...
    uid: str | None
    summary: str | None
    start_at: datetime | None
    end_at: datetime | None
    organizer: str | None  # email address, "mailto:" stripped
    is_all_day: bool = False
    sequence: int | None = None


@dataclass(frozen=True, slots=True)
class ReplySplit:
    reply: str  # the newest text the sender wrote
    quoted: str  # quoted history / forwarded content
    signature: str  # sign-off block, device footers


@dataclass(frozen=True, slots=True)
class ListUnsubscribe:
    mailto: list[str] = field(default_factory=list)
    urls: list[str] = field(default_factory=list)  # http(s) only
    one_click: bool = False  # RFC 8058 List-Unsubscribe-Post: List-Unsubscribe=One-Click


@dataclass(frozen=True, slots=True)
class ParsedMessage:
    message_id: str | None
    in_reply_to: str | None
    references: list[str]
    subject: str
    from_: list[Address]
    to: list[Address]
    cc: list[Address]
    bcc: list[Address]
    reply_to: list[Address]
    date: datetime | None  # aware, UTC
    text: str  # text/plain if any, else the HTML as text
    html: str | None  # the raw (unsanitized) HTML body when present, capped
    attachments: list[AttachmentMeta]
    calendar_invite: CalendarInvite | None
    list_id: str | None
    list_unsubscribe: str | None  # raw header value
    unsubscribe: ListUnsubscribe
    precedence: str | None
    auto_submitted: str | None
    is_bulk: bool
    defects: list[str]
    size: int  # raw bytes
    # Raw (folded, undecoded) values by lower-cased name, first occurrence wins; decode the
    # few you need with headers.decode_header_value (decoding all of them costs sync speed).
    headers: dict[str, str] = field(default_factory=dict)
    # Derived lazily and cached: the sync path parses thousands of messages a second and
    # stores bodies, while only the few messages that get triaged or drafted for need the
    # reply split or, when a text/plain part exists, the HTML as text.
    _html_text: str | None = field(default=None, repr=False, compare=False)
    _split: ReplySplit | None = field(default=None, init=False, repr=False, compare=False)

    @property
    def html_text(self) -> str:
        """The HTML body as clean text ("" when there is no HTML part)."""
        value = self._html_text
        if value is None:
            # imported here: html_text and quoting import this module's types
            from secretary.mail.html_text import html_to_text

            value = html_to_text(self.html) if self.html else ""
            object.__setattr__(self, "_html_text", value)  # cache on a frozen instance
        return value

    @property
    def split(self) -> ReplySplit:
        """``text`` split into the newest reply, the quoted history and the signature."""
        value = self._split
        if value is None:
            from secretary.mail.quoting import split_reply

            value = split_reply(self.text)
            object.__setattr__(self, "_split", value)
        return value

    @property
    def reply(self) -> str:
        return self.split.reply

    @property
    def quoted(self) -> str:
        return self.split.quoted

    @property
    def signature(self) -> str:
        return self.split.signature
