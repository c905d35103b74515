"""Draft-quality checks (issue 13): what a user noticed in the demo's drafts, as code.

Pure functions over one draft and the message it answers:

- ``local_part_greeting``: a greeting built from a mailbox local part ("Hi Mlk," to
  mlk@…, or a name the sender never uses when their display name says otherwise);
- ``unfilled_slot``: a template sentence with a missing piece ("Thanks for suggesting on
  Thursday.", "{first_name}", "[date]", a preposition left before the full stop);
- ``generic_promise``: a stock promise ("I'll look into this and follow up") instead of an
  answer. Whether a fact was available is for the caller to say (``bench/draft_quality.py``
  looks for the question's words in the user's other mail).
"""

from __future__ import annotations

import re

_GREETING = re.compile(r"^\s*(?:hi|hello|hey|dear)\s+([A-Za-z][\w'-]*)\s*[,!]", re.IGNORECASE)
_DAY = r"(?:mon|tues|wednes|thurs|fri|satur|sun)day"
_SLOTS = (
    re.compile(r"\{[a-z_]+\}"),
    re.compile(r"\[(?:name|first name|date|time|day|topic|company|x)\]", re.IGNORECASE),
    re.compile(
        rf"\b(?:suggesting|proposing|sending|sharing|offering|asking)\s+(?:on|at|by)\s+{_DAY}\b",
        re.IGNORECASE,
    ),
    re.compile(r"\b(?:on|at|by|about|regarding|with|for|from)\s*[.,;:!?](?=\s|$)", re.IGNORECASE),
)
_GENERIC = re.compile(
    r"\b(?:i'?ll|i will|let me)\s+(?:look into (?:this|it)|get back to you|follow up|"
    r"circle back|check (?:on )?(?:this|it)(?: and (?:get back|follow up))?)\b",
    re.IGNORECASE,
)


def local_part_greeting(body: str, from_name: str | None, from_addr: str | None) -> bool:
    match = _GREETING.match(body)
    if not match or not from_addr:
        return False
    name = match.group(1).lower()
    local = from_addr.split("@")[0].lower()
    parts = [p for p in re.split(r"[._+-]", local) if p]
    names = [w.lower() for w in re.findall(r"[A-Za-z][\w'-]*", from_name or "")]
    if name in names:
        return False
    return name == local or (bool(names) and name in parts)


def unfilled_slot(body: str) -> bool:
    return any(p.search(body) for p in _SLOTS)


def generic_promise(body: str) -> bool:
    return bool(_GENERIC.search(body))
