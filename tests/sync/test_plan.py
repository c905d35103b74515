"""Pure planning: the fetch plan, history summaries, label replay and the poll interval."""

from __future__ import annotations

import base64
import json

from secretary.google.gmail import FetchItem
from secretary.sync.plan import (
    PendingMessage,
    next_poll_interval,
    plan_fetch,
    plan_units,
    replay_labels,
    summarize_history,
)
from secretary.sync.records import payload_to_raw
from secretary.sync.service import decode_push_data


def pending(spec: list[tuple[str, str]]) -> list[PendingMessage]:
    return [PendingMessage(g, t) for g, t in spec]


def test_threads_with_three_or_more_pending_use_threads_get() -> None:
    msgs = pending([("a", "T1"), ("b", "T2"), ("c", "T1"), ("d", "T2"), ("e", "T1"), ("f", "T3")])
    [batch] = plan_fetch(msgs, batch_size=50, max_batch_units=10_000)
    assert [p.item for p in batch] == [
        FetchItem("thread", "T1"),
        FetchItem("message", "b"),
        FetchItem("message", "d"),
        FetchItem("message", "f"),
    ]
    assert batch[0].covers == ("a", "c", "e")
    # 10 (threads.get for 3 messages) + 3 × 5, instead of 6 × 5.
    assert plan_units([batch]) == 25


def test_batches_respect_size_and_unit_ceiling_and_keep_order() -> None:
    msgs = pending([(f"m{i}", f"t{i}") for i in range(120)])
    batches = plan_fetch(msgs, batch_size=50, max_batch_units=100)
    assert [len(b) for b in batches] == [20] * 6
    assert [p.item.id for b in batches for p in b] == [f"m{i}" for i in range(120)]
    big = plan_fetch(msgs, batch_size=50, max_batch_units=10_000)
    assert [len(b) for b in big] == [50, 50, 20]


def test_summarize_history_nets_adds_deletes_and_keeps_label_order() -> None:
    records = [
        {"messagesAdded": [{"message": {"id": "x", "threadId": "tx"}}]},
        {"labelsAdded": [{"message": {"id": "y"}, "labelIds": ["STARRED"]}]},
        {"messagesAdded": [{"message": {"id": "z", "threadId": "tz"}}]},
        {"messagesDeleted": [{"message": {"id": "z"}}]},
        {"labelsRemoved": [{"message": {"id": "y"}, "labelIds": ["STARRED", "UNREAD"]}]},
    ]
    delta = summarize_history(records)
    assert delta.added == {"x": "tx"}
    assert delta.deleted == {"z"}
    assert [op[0] for op in delta.label_ops] == ["y", "y"]


def test_replay_labels_converges_and_reports_only_changes() -> None:
    current = {"a": ["INBOX", "UNREAD"], "b": ["INBOX"]}
    ops = [
        ("a", frozenset({"STARRED"}), frozenset()),
        ("a", frozenset(), frozenset({"UNREAD"})),
        ("b", frozenset({"STARRED"}), frozenset()),
        ("b", frozenset(), frozenset({"STARRED"})),
        ("missing", frozenset({"X"}), frozenset()),
    ]
    assert replay_labels(current, ops) == {"a": ["INBOX", "STARRED"]}


def test_poll_interval_adapts() -> None:
    assert next_poll_interval(60, found_unannounced=True, minimum=30, maximum=600) == 30
    assert next_poll_interval(60, found_unannounced=False, minimum=30, maximum=600) == 90
    assert next_poll_interval(500, found_unannounced=False, minimum=30, maximum=600) == 600


def test_push_data_decoding() -> None:
    data = base64.b64encode(json.dumps({"emailAddress": "u@x.org", "historyId": 42}).encode())
    assert decode_push_data(data.decode()) == ("u@x.org", 42)
    assert decode_push_data("not base64!") is None
    assert decode_push_data(base64.b64encode(b"{}").decode()) is None


def test_payload_to_raw_rebuilds_parseable_mime() -> None:
    from secretary.mail import parse_message

    text = base64.urlsafe_b64encode("Grüße aus Köln\n".encode()).decode().rstrip("=")
    payload = {
        "mimeType": "multipart/alternative",
        "headers": [
            {"name": "Subject", "value": "Hallo"},
            {"name": "From", "value": "A <a@example.org>"},
            {"name": "Content-Type", "value": 'multipart/alternative; boundary="x"'},
        ],
        "parts": [
            {
                "mimeType": "text/plain",
                "headers": [
                    {"name": "Content-Type", "value": "text/plain; charset=utf-8"},
                    {"name": "Content-Transfer-Encoding", "value": "quoted-printable"},
                ],
                "body": {"data": text, "size": 16},
            }
        ],
    }
    parsed = parse_message(payload_to_raw(payload))
    assert parsed.subject == "Hallo"
    assert parsed.text.strip() == "Grüße aus Köln"
