"""What the user approves, as a value: a draft's version, its digest, the difference between
two versions, and the recipient warnings. Pure.

The digest covers exactly what the queue shows (To, Cc, Bcc, Subject, body), normalised
the way Gmail may rewrite it (address case and order, header folding, line endings and
trailing spaces), so the same content always has the same digest and any visible change
has another. ADR 0017 records the design.
"""

from __future__ import annotations

import difflib
import hashlib
import json
from collections.abc import Iterable, Sequence
from dataclasses import asdict, dataclass, field
from email.utils import getaddresses
from typing import Any

DIGEST_VERSION = "v1"
MAX_RECIPIENTS = 5


def normalize_body(body: str) -> str:
    return "\n".join(line.rstrip() for line in body.replace("\r\n", "\n").strip().split("\n"))


def normalize_addresses(values: Iterable[str]) -> list[str]:
    """Bare addresses, lower-cased, de-duplicated, sorted (order and case carry no meaning)."""
    out = {addr.strip().lower() for _name, addr in getaddresses(list(values)) if "@" in addr}
    return sorted(out)


def normalize_subject(subject: str) -> str:
    return " ".join(subject.split())


@dataclass(frozen=True)
class DraftVersion:
    to: list[str]
    cc: list[str]
    bcc: list[str]
    subject: str
    body: str

    @classmethod
    def of(
        cls,
        *,
        to: Sequence[str],
        cc: Sequence[str],
        bcc: Sequence[str],
        subject: str,
        body: str,
    ) -> DraftVersion:
        return cls(
            to=normalize_addresses(to),
            cc=normalize_addresses(cc),
            bcc=normalize_addresses(bcc),
            subject=normalize_subject(subject),
            body=normalize_body(body),
        )

    @classmethod
    def from_headers(cls, headers: dict[str, str], body: str) -> DraftVersion:
        """From ``gmail.parse_raw`` output (lower-cased header names)."""
        return cls.of(
            to=[headers.get("to", "")],
            cc=[headers.get("cc", "")],
            bcc=[headers.get("bcc", "")],
            subject=headers.get("subject", ""),
            body=body,
        )

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> DraftVersion:
        return cls.of(
            to=data.get("to", []),
            cc=data.get("cc", []),
            bcc=data.get("bcc", []),
            subject=data.get("subject", ""),
            body=data.get("body", ""),
        )

    def to_json(self) -> dict[str, Any]:
        return asdict(self)

    @property
    def recipients(self) -> list[str]:
        return [*self.to, *self.cc, *self.bcc]

    def digest(self) -> str:
        canonical = json.dumps(
            {
                "v": DIGEST_VERSION,
                "to": self.to,
                "cc": self.cc,
                "bcc": self.bcc,
                "subject": self.subject,
                "body": self.body,
            },
            ensure_ascii=False,
            separators=(",", ":"),
            sort_keys=True,
        )
        return hashlib.sha256(canonical.encode()).hexdigest()


@dataclass(frozen=True)
class LineChange:
    op: str  # "equal" | "insert" | "delete"
    text: str


@dataclass(frozen=True)
class VersionDiff:
    """What changed from the version the user saw (``old``) to the current one (``new``)."""

    added: dict[str, list[str]] = field(default_factory=dict)  # field -> new addresses
    removed: dict[str, list[str]] = field(default_factory=dict)
    subject: tuple[str, str] | None = None  # (old, new) when it changed
    body: list[LineChange] = field(default_factory=list)  # empty when the body is the same

    @property
    def changed(self) -> bool:
        return bool(self.added or self.removed or self.subject or self.body)

    def summary(self) -> str:
        parts = [
            f"{len(v)} {k.capitalize()} added" if len(v) != 1 else f"{k.capitalize()} {v[0]} added"
            for k, v in self.added.items()
        ]
        parts += [f"{len(v)} {k.capitalize()} removed" for k, v in self.removed.items()]
        if self.subject:
            parts.append("subject changed")
        if self.body:
            parts.append("text changed")
        return ", ".join(parts) or "no visible change"

    def to_json(self) -> dict[str, Any]:
        return {
            "added": self.added,
            "removed": self.removed,
            "subject": list(self.subject) if self.subject else None,
            "body": [{"op": c.op, "text": c.text} for c in self.body],
            "summary": self.summary(),
        }


def diff_versions(old: DraftVersion, new: DraftVersion) -> VersionDiff:
    added: dict[str, list[str]] = {}
    removed: dict[str, list[str]] = {}
    for name in ("to", "cc", "bcc"):
        before, after = getattr(old, name), getattr(new, name)
        if plus := [a for a in after if a not in before]:
            added[name] = plus
        if minus := [a for a in before if a not in after]:
            removed[name] = minus
    body: list[LineChange] = []
    if old.body != new.body:
        a, b = old.body.split("\n"), new.body.split("\n")
        for tag, i1, i2, j1, j2 in difflib.SequenceMatcher(
            None, a, b, autojunk=False
        ).get_opcodes():
            if tag == "equal":
                body.extend(LineChange("equal", line) for line in a[i1:i2])
                continue
            body.extend(LineChange("delete", line) for line in a[i1:i2])
            body.extend(LineChange("insert", line) for line in b[j1:j2])
    subject = (old.subject, new.subject) if old.subject != new.subject else None
    return VersionDiff(added=added, removed=removed, subject=subject, body=body)


def _domain(address: str) -> str:
    return address.rsplit("@", 1)[-1].lower()


def recipient_flags(
    version: DraftVersion, *, original: Iterable[str], own: Iterable[str]
) -> list[dict[str, str]]:
    """Warnings about who a reply goes to.

    ``original`` are the addresses of the message being answered (From, Reply-To, To, Cc);
    ``own`` the user's addresses. More than ``MAX_RECIPIENTS`` people, or a recipient at a
    domain that neither the original message nor the user's own address involved, is flagged.
    """
    flags: list[dict[str, str]] = []
    people = version.recipients
    if len(people) > MAX_RECIPIENTS:
        flags.append(
            {
                "kind": "many_recipients",
                "value": str(len(people)),
                "message": f"This reply goes to {len(people)} people.",
            }
        )
    known = {_domain(a) for a in normalize_addresses(original)}
    known |= {_domain(a) for a in normalize_addresses(own)}
    flags.extend(
        {
            "kind": "external_recipient",
            "value": address,
            "message": f"{address} is at a domain the original message did not include.",
        }
        for address in people
        if _domain(address) not in known
    )
    return flags
