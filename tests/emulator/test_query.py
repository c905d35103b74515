"""The Gmail ``q`` parser and evaluator (pure), plus one end-to-end search over HTTP."""

from __future__ import annotations

import base64
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import pytest
from workspace_emulator import query
from workspace_emulator.errors import GoogleApiError

NOW = int(datetime(2026, 11, 21, tzinfo=UTC).timestamp() * 1000)
DAY = 86_400_000


@dataclass
class Msg:
    headers: dict[str, str]
    body: str = ""
    labels: set[str] = field(default_factory=lambda: {"INBOX"})
    label_names: dict[str, str] = field(default_factory=dict)
    date_ms: int = NOW - DAY
    files: list[str] = field(default_factory=list)

    @property
    def internal_date_ms(self) -> int:
        return self.date_ms

    def header(self, name: str) -> str:
        return self.headers.get(name.lower(), "").lower()

    @property
    def label_ids(self) -> set[str]:
        return self.labels

    def has_label_named(self, name: str) -> bool:
        return any(
            name.lower() in (lid.lower(), self.label_names.get(lid, "").lower())
            for lid in self.labels
        )

    @property
    def text(self) -> str:
        return (" ".join(self.headers.values()) + " " + self.body).lower()

    @property
    def has_attachment(self) -> bool:
        return bool(self.files)

    @property
    def filenames(self) -> list[str]:
        return self.files


ALICE = Msg(
    headers={
        "from": "Alice Smith <alice@acme.com>",
        "to": "me@example.test",
        "cc": "carol@acme.com",
        "subject": "Quarterly report due Friday",
    },
    body="Please send the quarterly numbers before the board meeting.",
    labels={"INBOX", "UNREAD", "Label_1"},
    label_names={"Label_1": "Work/Reports"},
    files=["q3.xlsx"],
)
NEWSLETTER = Msg(
    headers={"from": "news@shop.example", "to": "me@example.test", "subject": "Big sale"},
    body="Meetings are boring; shop now!",
    labels={"INBOX", "CATEGORY_PROMOTIONS"},
    date_ms=NOW - 40 * DAY,
)
TRASHED = Msg(headers={"from": "alice@acme.com", "subject": "old"}, labels={"TRASH"})
SPAM = Msg(headers={"from": "x@spam.example", "subject": "win"}, labels={"SPAM"})
ALL = {"alice": ALICE, "newsletter": NEWSLETTER, "trashed": TRASHED, "spam": SPAM}


def hits(q: str, *, include_spam_trash: bool = False) -> set[str]:
    node = query.parse(q, include_spam_trash=include_spam_trash)
    return {name for name, msg in ALL.items() if query.matches(node, msg, now_ms=NOW)}


@pytest.mark.parametrize(
    ("q", "expected"),
    [
        ("from:alice", {"alice"}),
        ("from:alice@acme.com", {"alice"}),
        ("to:me@example.test", {"alice", "newsletter"}),
        ("cc:carol", {"alice"}),
        ("subject:quarterly", {"alice"}),
        ("subject:(report friday)", {"alice"}),
        ('"board meeting"', {"alice"}),
        ('"meeting board"', set()),
        ("meeting", {"alice"}),  # whole words: "Meetings" does not match
        ("MEETING", {"alice"}),
        ("is:unread", {"alice"}),
        ("is:read", {"newsletter"}),
        ("is:starred", set()),
        ("has:attachment", {"alice"}),
        ("filename:xlsx", {"alice"}),
        ("label:work/reports", {"alice"}),
        ("label:category_promotions", {"newsletter"}),
        ("in:inbox", {"alice", "newsletter"}),
        ("in:trash", {"trashed"}),
        ("in:spam", {"spam"}),
        ("in:anywhere from:alice", {"alice", "trashed"}),
        ("-from:alice", {"newsletter"}),
        ("from:alice OR from:news", {"alice", "newsletter"}),
        ("{from:alice from:news}", {"alice", "newsletter"}),
        ("newer_than:7d", {"alice"}),
        ("older_than:1m", {"newsletter"}),
        ("newer_than:1y", {"alice", "newsletter"}),
        ("after:2026/11/01", {"alice"}),
        ("before:2026/11/01", {"newsletter"}),
        ("after:2026-11-01", {"alice"}),
        (f"after:{(NOW - 2 * DAY) // 1000}", {"alice"}),
        ("from:alice is:unread -has:attachment", set()),
        ("(from:alice OR from:news) -is:unread", {"newsletter"}),
        ("", {"alice", "newsletter"}),
    ],
)
def test_operators(q: str, expected: set[str]) -> None:
    assert hits(q) == expected


def test_include_spam_trash_lifts_the_default_exclusion() -> None:
    assert hits("", include_spam_trash=True) == set(ALL)
    assert hits("from:alice", include_spam_trash=True) == {"alice", "trashed"}


@pytest.mark.parametrize("bad", ["after:yesterday", "newer_than:5x", "(from:a", "OR from:a", ")"])
def test_invalid_queries_raise_400(bad: str) -> None:
    with pytest.raises(GoogleApiError) as err:
        query.parse(bad)
    assert err.value.status_code == 400


def test_tokenizer_keeps_quoted_values() -> None:
    assert query.tokenize('-subject:"big sale" word') == [
        (True, "subject", "big sale", True),
        (False, "", "word", False),
    ]


def test_search_over_http(gmail: Any) -> None:
    def put(raw: bytes, labels: list[str]) -> str:
        body = {"raw": base64.urlsafe_b64encode(raw).decode(), "labelIds": labels}
        return str(gmail.users().messages().insert(userId="me", body=body).execute()["id"])

    html = (
        b"From: Dana <dana@corp.example>\r\nTo: alex@example.test\r\nSubject: =?utf-8?q?Caf=C3=A9?=\r\n"
        b"Content-Type: text/html; charset=utf-8\r\n\r\n<p>Lunch at the <b>caf\xc3\xa9</b> &amp; more</p>"
    )
    plain = b"From: Eve <eve@corp.example>\r\nSubject: Invoice\r\n\r\nInvoice attached, thanks.\r\n"
    label = gmail.users().labels().create(userId="me", body={"name": "Work/Reports"}).execute()
    html_id = put(html, ["INBOX", "UNREAD"])
    plain_id = put(plain, ["INBOX", label["id"]])
    for q in ("label:work-reports", "label:Work/Reports", f"label:{label['id']}"):
        found = gmail.users().messages().list(userId="me", q=q).execute()
        assert [m["id"] for m in found["messages"]] == [plain_id]
    found = gmail.users().messages().list(userId="me", q='"lunch at the" is:unread').execute()
    assert [m["id"] for m in found["messages"]] == [html_id]
    found = gmail.users().messages().list(userId="me", q="subject:café OR from:eve").execute()
    assert {m["id"] for m in found["messages"]} == {html_id, plain_id}
    got = gmail.users().messages().get(userId="me", id=html_id, format="minimal").execute()
    assert got["snippet"] == "Lunch at the café &amp; more"  # Gmail HTML-escapes snippets
