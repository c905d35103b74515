"""Calendar events and Drive files in the index: the contract's rules for each kind."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta

from sqlalchemy import update
from sqlalchemy.orm import Session, sessionmaker

from secretary.db.models import Calendar, CalendarEvent, CalendarInstance, DriveFile
from secretary.search import service
from secretary.search.indexer import Indexer
from secretary.search.schemas import SearchHit
from tests.search.conftest import NOW, Mailbox


def _fill(box: Mailbox) -> dict[str, int]:
    ids: dict[str, int] = {}
    base = {"user_id": box.user_id, "account_id": box.account_id}
    with box.sessions.begin() as s:
        cal = Calendar(**base, google_id=f"primary-{box.user_id}", summary="Me", is_primary=True)
        s.add(cal)
        s.flush()
        at = NOW + timedelta(days=3)
        dentist = CalendarEvent(
            **base,
            calendar_id=cal.id,
            google_id="dentist1",
            summary="Dentist check-up",
            description="Bring the insurance card.",
            location="Rua Augusta 12",
            start_at=at,
            end_at=at + timedelta(hours=1),
            attendees=[{"email": "clinic@example.org", "displayName": "Smile Clinic"}],
        )
        cancelled = CalendarEvent(
            **base,
            calendar_id=cal.id,
            google_id="standup-x",
            status="cancelled",
            summary="Cancelled dentist standup",
            start_at=at,
            end_at=at,
        )
        first = datetime(2026, 12, 1, 15, 0, tzinfo=NOW.tzinfo)
        series = CalendarEvent(
            **base,
            calendar_id=cal.id,
            google_id="review",
            summary="Weekly design review",
            description="Walk through the open design questions.",
            start_at=first,
            end_at=first + timedelta(hours=1),
            recurrence=["RRULE:FREQ=WEEKLY;COUNT=3"],
        )
        s.add_all([dentist, cancelled, series])
        s.flush()
        for week in range(3):
            start = first + timedelta(weeks=week)
            s.add(
                CalendarInstance(
                    **base,
                    calendar_id=cal.id,
                    event_id=series.id,
                    google_id=f"review_{start:%Y%m%dT%H%M%SZ}",
                    recurring_event_id="review",
                    summary=series.summary,
                    start_at=start,
                    end_at=start + timedelta(hours=1),
                )
            )
        folder = DriveFile(
            **base,
            google_id="fold1",
            name="Plans",
            mime_type="application/vnd.google-apps.folder",
            text_state="none",
        )
        doc = DriveFile(
            **base,
            google_id="doc1",
            name="Q3 roadmap",
            mime_type="application/vnd.google-apps.document",
            parents=["fold1"],
            owners=["lead@example.org"],
            text="Milestones for the payments team: ledger rewrite, then refunds.",
            text_state="ok",
            google_modified_at=NOW - timedelta(days=5),
        )
        sheet = DriveFile(
            **base,
            google_id="sheet1",
            name="Budget 2026",
            mime_type="application/vnd.google-apps.spreadsheet",
            text="team,amount\nmarketing,12000\nsupport,8000\n",
            text_state="ok",
        )
        trashed = DriveFile(
            **base,
            google_id="old1",
            name="Old payments notes",
            mime_type="text/plain",
            trashed=True,
            text_state="none",
        )
        s.add_all([folder, doc, sheet, trashed])
        s.flush()
        ids.update(dentist=dentist.id, series=series.id, doc=doc.id)
    return ids


def _hits(
    sessions: sessionmaker[Session], indexer: Indexer, user_id: int, q: str, **kw: object
) -> list[SearchHit]:
    with sessions() as s:
        return service.search(s, user_id, q, home=indexer.home, now=NOW, **kw)  # type: ignore[arg-type]


def test_events_and_files_follow_the_contract(
    mailboxes: Callable[[], Mailbox], indexer: Indexer, sessions: sessionmaker[Session]
) -> None:
    box = mailboxes()
    box.add("Dentist invoice", "The dentist sent the invoice for the last visit.")
    ids = _fill(box)
    report = indexer.run(box.user_id)
    assert report.indexed == 1 + 2 + 3  # a message, two live events, three files (no folder)

    def ids_of(q: str, **kw: object) -> list[tuple[str, str]]:
        return [(h.kind, h.id) for h in _hits(sessions, indexer, box.user_id, q, **kw)]

    # Cancelled events are not returned; the kind filter narrows.
    assert ids_of("dentist", kind="event") == [("event", "dentist1")]
    assert ("event", "standup-x") not in ids_of("dentist standup")
    assert {k for k, _ in ids_of("dentist")} == {"email", "event"}
    # A recurring event: the series id, or the instance's when the query names a date.
    assert ids_of("design review", kind="event") == [("event", "review")]
    assert ids_of("design review on December 8", kind="event") == [
        ("event", "review_20261208T150000Z")
    ]
    assert ids_of("design review after:2027/01/01", kind="event") == []
    # The text of Docs and Sheets is searched; a folder's name finds the files in it.
    assert ids_of("payments milestones")[0] == ("file", "doc1")
    assert ids_of("marketing budget", kind="file")[0] == ("file", "sheet1")
    assert ("file", "doc1") in ids_of("plans roadmap")
    # Trashed files only with in:trash.
    assert ("file", "old1") not in ids_of("old payments notes")
    assert ids_of("old payments notes in:trash")[0] == ("file", "old1")

    # Cancelling an event and trashing a doc reach the index on the next pass.
    with sessions.begin() as s:
        s.execute(
            update(CalendarEvent)
            .where(CalendarEvent.id == ids["dentist"])
            .values(status="cancelled")
        )
        s.execute(update(DriveFile).where(DriveFile.id == ids["doc"]).values(trashed=True))
    again = indexer.run(box.user_id)
    assert (again.deleted, again.indexed) == (1, 1)
    assert ids_of("dentist", kind="event") == []
    assert ("file", "doc1") not in ids_of("payments milestones")
