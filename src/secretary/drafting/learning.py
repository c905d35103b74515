"""Learning from the user's edits (issue 13, seed 000): the difference between what was
suggested and what the user approved becomes preferences, applied to the next drafts.

``preferences_from_edit`` is pure: it compares the two texts and names what changed: the
greeting (as a template, so "Hello Priya," teaches "Hello {first_name},"), the closing,
the signature, phrases the user deleted, and a shorter length. ``record_edit`` stores them
for the recipient and for everyone (``style_preferences``), counting agreeing evidence;
``apply_preferences`` lays them over the style learned from sent mail, the recipient's
first. Preferences are listed and editable through ``/api/v1/preferences/style``.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.orm import Session

from secretary.db.models import StylePreference
from secretary.kit.text import split_sentences
from secretary.llm.local.style import _CLOSING, _greeting_template
from secretary.llm.schemas import StyleProfile

_MIN_PHRASE_WORDS = 3


@dataclass(frozen=True)
class Learned:
    key: str  # greeting | closing | signature | max_words | avoid:<phrase>
    value: str


def _lines(text: str) -> list[str]:
    return [ln.strip() for ln in text.strip().splitlines() if ln.strip()]


def _parts(text: str) -> tuple[str | None, list[str], str | None, str | None]:
    """(greeting template, body sentences, closing, signature) of a short reply."""
    lines = _lines(text)
    greeting = None
    if lines and (found := _greeting_template(lines[0])):
        greeting = found[0]
        lines = lines[1:]
    closing = signature = None
    for i in range(len(lines) - 1, max(0, len(lines) - 4) - 1, -1):
        if _CLOSING.match(lines[i]):
            closing = lines[i] if lines[i][-1] in ",!." else lines[i] + ","
            tail = lines[i + 1 : i + 3]
            signature = "\n".join(tail) if tail else None
            lines = lines[:i]
            break
    sentences = split_sentences("\n".join(lines))
    return greeting, sentences, closing, signature


def preferences_from_edit(suggested: str, approved: str) -> list[Learned]:
    """What the edit from ``suggested`` to ``approved`` says about the user's style."""
    if not approved.strip() or suggested.strip() == approved.strip():
        return []
    g1, body1, c1, s1 = _parts(suggested)
    g2, body2, c2, s2 = _parts(approved)
    out: list[Learned] = []
    if g2 and g2 != g1:
        out.append(Learned("greeting", g2))
    if c2 and c2 != c1:
        out.append(Learned("closing", c2))
    if s2 and s2 != s1:
        out.append(Learned("signature", s2))
    kept = " ".join(body2).lower()
    for sentence in body1:
        words = sentence.split()
        if len(words) >= _MIN_PHRASE_WORDS and sentence.lower() not in kept:
            out.append(Learned(f"avoid:{sentence.lower().rstrip('.!')[:180]}", sentence))
    before, after = sum(len(s.split()) for s in body1), sum(len(s.split()) for s in body2)
    if before and after and after <= before * 0.7:
        out.append(Learned("max_words", str(max(5, after))))
    return out


def record_edit(
    session: Session, user_id: int, recipient: str | None, suggested: str, approved: str
) -> list[Learned]:
    """Store what an edit taught, for this recipient and for everyone."""
    learned = preferences_from_edit(suggested, approved)
    scopes = ["all"] + ([f"to:{recipient.lower()}"] if recipient else [])
    for item in learned:
        for scope in scopes:
            stmt = insert(StylePreference).values(
                user_id=user_id, scope=scope, key=item.key, value=item.value, evidence=1,
                source="edit",
            )  # fmt: skip
            session.execute(
                stmt.on_conflict_do_update(
                    index_elements=["user_id", "scope", "key"],
                    set_={
                        "value": stmt.excluded.value,
                        "evidence": StylePreference.evidence + 1,
                        "updated_at": stmt.excluded.updated_at,
                    },
                )
            )
    session.flush()
    return learned


def preferences_for(
    session: Session, user_id: int, recipient: str | None
) -> Sequence[StylePreference]:
    scopes = ["all"] + ([f"to:{recipient.lower()}"] if recipient else [])
    return session.scalars(
        select(StylePreference)
        .where(StylePreference.user_id == user_id, StylePreference.scope.in_(scopes))
        .order_by(StylePreference.scope, StylePreference.id)
    ).all()


#: Shortening edits, for everyone, before a length limit applies to every recipient: one
#: short reply to one person is about that person (its ``to:`` scope applies at once).
LENGTH_HABIT_EVIDENCE = 3


def _length_is_habit(pref: StylePreference) -> bool:
    return pref.scope != "all" or pref.source != "edit" or pref.evidence >= LENGTH_HABIT_EVIDENCE


def apply_preferences(style: StyleProfile, prefs: Sequence[StylePreference]) -> StyleProfile:
    """``style`` with the learned preferences laid over it (the recipient's win)."""
    update: dict[str, object] = {}
    avoid = list(style.avoid_phrases)
    ordered = sorted(prefs, key=lambda p: p.scope != "all")  # "all" first, then "to:"
    for pref in ordered:
        if pref.key in ("greeting", "closing", "signature"):
            update[pref.key] = pref.value
        elif pref.key == "max_words" and pref.value.isdigit():
            if _length_is_habit(pref):
                update["max_words"] = int(pref.value)
        elif pref.key.startswith("avoid:") and pref.key[6:] not in avoid:
            avoid.append(pref.key[6:])
    update["avoid_phrases"] = avoid
    return style.model_copy(update=update)


def enforce(body: str, style: StyleProfile) -> str:
    """Remove sentences the user always deletes; keep within their length for a
    recipient. Applied to every tier's draft, so a model cannot bring them back."""
    if not style.avoid_phrases and not style.max_words:
        return body
    greeting, sentences, closing, signature = _parts(body)
    lines = _lines(body)
    head = lines[0] if greeting and lines else None
    kept = [
        s for s in sentences
        if not any(phrase in s.lower() for phrase in style.avoid_phrases)
    ]  # fmt: skip
    if style.max_words:
        trimmed: list[str] = []
        for sentence in kept:
            if (
                trimmed
                and sum(len(s.split()) for s in trimmed) + len(sentence.split()) > style.max_words
            ):
                break
            trimmed.append(sentence)
        kept = trimmed
    if not kept:
        return body  # never leave an empty reply: the user still sees and edits it
    parts = ([head] if head else []) + [" ".join(kept)]
    tail = "\n".join(x for x in (closing, signature) if x)
    return "\n\n".join(parts + ([tail] if tail else [])) + "\n"
