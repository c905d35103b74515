"""The draft exfiltration check. Pure.

A model that read a hostile email may write the attacker's tracking-pixel URL, an address to
"confirm" to, a phone number or a bank account into the reply. A reply's links and numbers
normally come from the conversation or from what the user writes anyway, so anything of
those kinds that occurs neither in the thread nor in the user's own sent mail is flagged.
The flags are shown on the draft and lower its confidence; nothing is removed (a human
decides), and nothing is sent without approval.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass

from secretary.kit.pii import find_pii

CHECKED_KINDS = frozenset({"url", "email", "phone", "iban", "card"})
# A flagged draft's confidence is at most this (and at least halved): it is not a routine reply.
FLAGGED_CONFIDENCE_CAP = 0.3

_LABELS = {
    "url": "a link",
    "email": "an email address",
    "phone": "a phone number",
    "iban": "a bank account (IBAN)",
    "card": "a card number",
}


@dataclass(frozen=True)
class ExfilFlag:
    kind: str
    value: str

    def to_json(self) -> dict[str, str]:
        return {
            "kind": f"unsupported_{self.kind}",
            "value": self.value,
            "message": (
                f"The draft contains {_LABELS[self.kind]} ({self.value}) that appears neither "
                "in this conversation nor in your sent mail. Check it before sending."
            ),
        }


def known_values(texts: Iterable[str]) -> set[tuple[str, str]]:
    """(kind, normal form) of everything checkable in ``texts``."""
    known: set[tuple[str, str]] = set()
    for text in texts:
        if text:
            known.update((f.kind, f.normal) for f in find_pii(text) if f.kind in CHECKED_KINDS)
    return known


def _url_known(normal: str, known: set[tuple[str, str]]) -> bool:
    # A link is supported when the conversation has it, or has a longer one it begins
    # (a quoted link with a tracking suffix is not shorter than the draft's).
    return any(k == "url" and (v == normal or v.startswith(normal)) for k, v in known)


def unsupported(body: str, known: set[tuple[str, str]]) -> list[ExfilFlag]:
    """Links, addresses, phone, IBAN and card numbers in ``body`` not in ``known``."""
    flags: list[ExfilFlag] = []
    seen: set[tuple[str, str]] = set()
    for finding in find_pii(body):
        key = (finding.kind, finding.normal)
        if finding.kind not in CHECKED_KINDS or key in seen:
            continue
        seen.add(key)
        if key in known or (finding.kind == "url" and _url_known(finding.normal, known)):
            continue
        flags.append(ExfilFlag(finding.kind, finding.value))
    return flags


def check_draft(
    body: str, *, thread: Iterable[str], sent: Callable[[], Iterable[str]] | None = None
) -> list[ExfilFlag]:
    """Flags for ``body`` given the thread's texts (bodies, subjects, addresses) and, only
    when the thread does not explain everything, the user's sent mail (``sent()``)."""
    known = known_values(thread)
    flags = unsupported(body, known)
    if not flags or sent is None:
        return flags
    return unsupported(body, known | known_values(sent()))


def lowered_confidence(confidence: float, flags: list[ExfilFlag]) -> float:
    if not flags:
        return confidence
    return min(confidence * 0.5, FLAGGED_CONFIDENCE_CAP)
