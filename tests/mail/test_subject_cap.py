"""A 2 MB Subject (issue 7) is stored capped at 998 characters and never becomes a 2 MB
"Re:" draft; the original stays in Gmail, the raw source of truth."""

from __future__ import annotations

import base64
from datetime import UTC, datetime

from secretary.drafting.addressing import build_reply, reply_subject
from secretary.mail.headers import MAX_SUBJECT_CHARS
from secretary.mail.mime import parse_message
from secretary.sync.records import record_from_resource

HUGE = "Invoice " + "A" * 2_000_000


def _raw(subject: str) -> bytes:
    return (
        f"From: a@example.org\r\nTo: b@example.org\r\nSubject: {subject}\r\n"
        "Message-ID: <huge@example.org>\r\n\r\nhello\r\n"
    ).encode()


def test_the_parsed_and_stored_subject_is_capped() -> None:
    parsed = parse_message(_raw(HUGE))
    assert len(parsed.subject) == MAX_SUBJECT_CHARS
    assert parsed.subject.startswith("Invoice AAA")
    assert "subject_truncated" in parsed.defects
    row = record_from_resource(
        {
            "id": "m1",
            "threadId": "t1",
            "raw": base64.urlsafe_b64encode(_raw(HUGE)).decode(),
        },
        fetched_at=datetime(2026, 12, 7, tzinfo=UTC),
    )
    assert len(row.row["subject"]) == MAX_SUBJECT_CHARS


def test_a_reply_subject_never_grows_past_a_line() -> None:
    assert len(reply_subject(HUGE)) == MAX_SUBJECT_CHARS
    assert reply_subject("Re: Plan") == "Re: Plan"
    assert reply_subject("") == "Re:"
    envelope = build_reply(
        user_email="b@example.org",
        from_addr="a@example.org",
        reply_to=None,
        to=["b@example.org"],
        cc=[],
        subject=HUGE,
        message_id_header="<huge@example.org>",
        references=[],
    )
    assert len(envelope.subject) <= MAX_SUBJECT_CHARS
    assert envelope.subject.startswith("Re: Invoice AAA")
