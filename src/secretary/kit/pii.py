"""Finding personal data in text: addresses, URLs, phone, card, IBAN and national id numbers.

One set of detectors for two jobs: the log redactor (``kit.logging``) replaces them, and
the draft exfiltration check (``drafting.exfil``) flags the ones a model wrote that the
thread never contained. Pure and linear: every pattern is anchored on a literal class with
bounded repetition, so a hostile string cannot make it backtrack.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass

EMAIL_RE = re.compile(r"[\w.+\-]{1,64}(?:@|%40)[\w\-]{1,63}(?:\.[\w\-]{1,63}){1,8}")
URL_RE = re.compile(r"(?i)\b(?:https?://|www\.)[^\s<>\"'()\[\]{}]{1,2000}")
IBAN_RE = re.compile(r"\b[A-Z]{2}\d{2}(?: ?[A-Z0-9]{4}){2,7}(?: ?[A-Z0-9]{1,4})?\b")
CARD_RE = re.compile(r"(?<![\w+-])\d(?:[ -]?\d){12,18}(?![\w-])")
NATIONAL_ID_RE = re.compile(
    r"\b(?:\d{3}-\d{2}-\d{4}"  # US social security number
    r"|[A-CEGHJ-PR-TW-Z]{2} ?\d{2} ?\d{2} ?\d{2} ?[A-D]"  # UK national insurance number
    r")\b"
)
# Groups need a separator between them, so a long digit run splits in one way only.
PHONE_RE = re.compile(
    r"(?<![\w+])(?:\+?(?:\(\d{1,4}\) ?)?\d{1,4}(?:[ .\-/]\(?\d{1,5}\)?){1,6}|\+?\d{9,15})(?![\w-])"
)
_DATE_LIKE_RE = re.compile(r"^\d{4}-\d{2}-\d{2}|^\d{1,2}[./]\d{1,2}[./]\d{2,4}$|^\d{2}:\d{2}")


@dataclass(frozen=True)
class Finding:
    kind: str  # "email" | "url" | "iban" | "card" | "national_id" | "phone"
    value: str  # as written
    normal: str  # as compared: lower-cased address, digits only, IBAN without spaces
    start: int
    end: int


def digits(text: str) -> str:
    return "".join(ch for ch in text if ch.isdigit())


def luhn_ok(number: str) -> bool:
    total = 0
    for i, ch in enumerate(reversed(number)):
        d = int(ch)
        if i % 2 == 1:
            d = d * 2 - 9 if d > 4 else d * 2
        total += d
    return total % 10 == 0


def iban_ok(value: str) -> bool:
    """ISO 13616 check digits (mod 97 == 1)."""
    compact = value.replace(" ", "").upper()
    if not 15 <= len(compact) <= 34:
        return False
    moved = compact[4:] + compact[:4]
    numeric = "".join(str(int(ch, 36)) for ch in moved)
    return int(numeric) % 97 == 1


def _is_phone(value: str) -> bool:
    n = len(digits(value))
    if not 9 <= n <= 15 or _DATE_LIKE_RE.match(value):
        return False
    # A bare run of digits is an id, not a phone number, unless it starts with + or 0.
    return not (value.isdigit() and not value.startswith("0"))


def find_pii(text: str) -> list[Finding]:
    """Every address, URL, IBAN, card, national id and phone number, left to right; a span
    claimed by an earlier kind (an IBAN's digits) is not reported again as a phone."""
    found: list[Finding] = []
    taken: list[tuple[int, int]] = []

    def free(start: int, end: int) -> bool:
        return all(end <= s or start >= e for s, e in taken)

    def add(kind: str, m: re.Match[str], normal: str) -> None:
        found.append(Finding(kind, m.group(0), normal, m.start(), m.end()))
        taken.append((m.start(), m.end()))

    for m in URL_RE.finditer(text):
        add("url", m, m.group(0).rstrip(".,;:!?").lower())
    for m in EMAIL_RE.finditer(text):
        if free(m.start(), m.end()):
            add("email", m, m.group(0).lower())
    for m in IBAN_RE.finditer(text):
        if free(m.start(), m.end()) and iban_ok(m.group(0)):
            add("iban", m, m.group(0).replace(" ", "").upper())
    for m in CARD_RE.finditer(text):
        number = digits(m.group(0))
        if free(m.start(), m.end()) and luhn_ok(number) and len(set(number)) > 1:
            add("card", m, number)
    for m in NATIONAL_ID_RE.finditer(text):
        if free(m.start(), m.end()):
            add("national_id", m, m.group(0).replace(" ", "").replace("-", "").upper())
    for m in PHONE_RE.finditer(text):
        if free(m.start(), m.end()) and _is_phone(m.group(0)):
            add("phone", m, digits(m.group(0))[-9:])
    found.sort(key=lambda f: f.start)
    return found


_PLACEHOLDER = {
    "email": "<email>",
    "url": "<url>",
    "iban": "<iban>",
    "card": "<card>",
    "national_id": "<national_id>",
    "phone": "<phone>",
}


def redact(text: str, *, keep_urls: bool = True) -> str:
    """``text`` with personal data replaced by ``<email>``, ``<phone>``, ``<iban>`` ...

    URLs are kept by default (logs need request paths), but an address inside one is not.
    """
    if not text:
        return text
    out: list[str] = []
    pos = 0
    for f in find_pii(text):
        out.append(text[pos : f.start])
        if f.kind == "url" and keep_urls:
            out.append(redact_inside_url(f.value))
        else:
            out.append(_PLACEHOLDER[f.kind])
        pos = f.end
    out.append(text[pos:])
    return "".join(out)


def redact_inside_url(url: str) -> str:
    return EMAIL_RE.sub("<email>", url)


def iter_kinds(text: str, kinds: frozenset[str]) -> Iterator[Finding]:
    return (f for f in find_pii(text) if f.kind in kinds)
