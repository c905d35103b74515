"""How the suggestions fared (issue 13, seed 004): ``GET /api/v1/stats``.

A draft counts once per suggestion the user saw: superseded ones (replaced by a
regenerate) are left out. A sent draft is *approved as is* when nobody edited it (here or in
Gmail) and *edited* otherwise; the edit size is the normalised character edit distance
between the suggestion as first written and what was sent (0 = unchanged, 1 = nothing in
common), stored on the draft when it is sent.

Time saved, in minutes, is an estimate with fixed, stated constants::

    per sent draft:     max(0, words(sent) / COMPOSE_WPM
                               - REVIEW_SECONDS / 60
                               - edit_distance * chars(sent) / TYPING_CPS / 60)
    per rejected draft: - REVIEW_SECONDS / 60
    time_saved = max(0, sum of the above)

Writing a reply yourself runs at about COMPOSE_WPM = 20 words a minute (thinking included);
reading a suggestion costs REVIEW_SECONDS = 10; retyping the part you changed runs at
TYPING_CPS = 4 characters a second (about 40 words a minute).
"""

from __future__ import annotations

from dataclasses import dataclass
from difflib import SequenceMatcher

from sqlalchemy import select
from sqlalchemy.orm import Session

from secretary.db.models import Draft, DraftStatus

COMPOSE_WPM = 20.0
REVIEW_SECONDS = 10.0
TYPING_CPS = 4.0


def edit_distance(suggested: str, sent: str) -> float:
    """Normalised character edit distance (0 = identical, 1 = nothing in common); the same
    measure as ``bench/learning.py``."""
    if suggested == sent:
        return 0.0
    return round(1.0 - SequenceMatcher(None, suggested, sent, autojunk=False).ratio(), 4)


def minutes_saved(sent_body: str, distance: float | None) -> float:
    """The estimate for one sent draft (see the module docstring)."""
    words = len(sent_body.split())
    typed = (distance or 0.0) * len(sent_body) / TYPING_CPS
    return max(0.0, words / COMPOSE_WPM - (REVIEW_SECONDS + typed) / 60.0)


@dataclass(frozen=True)
class DraftStats:
    drafts_suggested: int
    approved_as_is: int
    edited: int
    rejected: int
    pending: int
    average_edit_size: float | None
    time_saved_minutes: float


def draft_stats(session: Session, user_id: int) -> DraftStats:
    rows = session.execute(
        select(Draft.status, Draft.human_edited, Draft.edit_distance, Draft.body).where(
            Draft.user_id == user_id, Draft.status != DraftStatus.SUPERSEDED
        )
    ).all()
    as_is = edited = rejected = pending = 0
    sizes: list[float] = []
    saved = 0.0
    for status, human_edited, distance, body in rows:
        if status == DraftStatus.SENT:
            if human_edited or (distance or 0.0) > 0:
                edited += 1
                if distance is not None:
                    sizes.append(distance)
            else:
                as_is += 1
            saved += minutes_saved(body or "", distance)
        elif status == DraftStatus.REJECTED:
            rejected += 1
            saved -= REVIEW_SECONDS / 60.0
        else:
            pending += 1
    return DraftStats(
        drafts_suggested=len(rows),
        approved_as_is=as_is,
        edited=edited,
        rejected=rejected,
        pending=pending,
        average_edit_size=round(sum(sizes) / len(sizes), 4) if sizes else None,
        time_saved_minutes=round(max(0.0, saved), 1),
    )
