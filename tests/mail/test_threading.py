"""Threading by References/In-Reply-To (notmuch corpora: ghost parents, duplicate ids, LKML)."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

from secretary.mail import parse_message
from secretary.mail.headers import normalize_subject
from secretary.mail.threading import ThreadHeaders, assign_threads
from tests.conftest import shared_data


def _load(folder: Path) -> dict[str, ThreadHeaders]:
    return {
        path.name: ThreadHeaders.of(parse_message(path.read_bytes()))
        for path in sorted(folder.rglob("*"))
        if path.is_file()
    }


def test_ghost_root_threads() -> None:
    messages = _load(shared_data("notmuch_corpora", "threading", "ghost-root"))
    threads = assign_threads(messages)
    example = {k for k in messages if not k.startswith("15")}
    rt = {k for k in messages if k.startswith("15")}
    # the example.org family (a fake root naming a nonexistent parent included) is one
    # thread rooted at the real root; the RT ticket mails meet in the ghost ticket id
    assert {threads[k] for k in example} == {"000-real-root@example.org"}
    assert len({threads[k] for k in rt}) == 1
    assert threads[next(iter(rt))] != threads[next(iter(example))]


def test_parent_priority_single_thread() -> None:
    messages = _load(shared_data("notmuch_corpora", "threading", "parent-priority"))
    assert set(assign_threads(messages).values()) == {"B00-root@example.org"}


def test_duplicate_message_ids_share_a_thread() -> None:
    messages = _load(shared_data("notmuch_corpora", "duplicate"))
    threads = assign_threads(messages)
    by_id: dict[str | None, set[str]] = {}
    for key, head in messages.items():
        by_id.setdefault(head.message_id, set()).add(threads[key])
    assert any(len([k for k in messages if messages[k].message_id == mid]) > 1 for mid in by_id)
    assert all(len(thread_keys) == 1 for thread_keys in by_id.values())


def test_lkml_replies_join_their_parents() -> None:
    messages = _load(shared_data("notmuch_corpora", "lkml"))
    threads = assign_threads(messages)
    key_of_id = {head.message_id: key for key, head in messages.items()}
    checked = 0
    for key, head in messages.items():
        if head.in_reply_to in key_of_id:
            checked += 1
            assert threads[key] == threads[key_of_id[head.in_reply_to]]
    thread_count = len(set(threads.values()))
    print(f"\nlkml: {len(messages)} messages, {thread_count} threads, {checked} parent links held")
    assert checked >= 140  # 144 replies whose parent is in the corpus
    assert thread_count < len(messages) / 3


def _head(mid: str | None, subject: str, day: int, irt: str | None = None) -> ThreadHeaders:
    return ThreadHeaders(
        message_id=mid,
        in_reply_to=irt,
        references=(irt,) if irt else (),
        subject=subject,
        date=datetime(2024, 1, day, tzinfo=UTC),
    )


def test_subject_fallback_only_for_reference_less_replies() -> None:
    threads = assign_threads(
        {
            "a": _head("a@x", "Lunch?", 1),
            "b": _head("b@x", "Re: Lunch?", 2),  # no references: joins by subject
            "c": _head("c@x", "Lunch?", 3),  # same subject, not a reply: its own thread
            "d": _head(None, "AW: [team] Lunch?", 4),  # no id, German reply prefix + list tag
            "e": _head("e@x", "Budget", 5, irt="zzz@ghost"),
        }
    )
    assert threads["a"] == threads["b"] == "a@x"
    assert threads["c"] == "c@x"
    assert threads["d"] == threads["c"]  # nearest earlier same-subject message
    assert threads["e"] == "zzz@ghost"


def test_normalize_subject() -> None:
    assert normalize_subject("Re: AW: [dev] Fwd: Plan") == "Plan"
    assert normalize_subject("RE[2]: SV: Tilbud") == "Tilbud"
    assert normalize_subject("回复: 会议") == "会议"
    assert normalize_subject("Re:") == "Re:"
    assert normalize_subject("Regarding the plan") == "Regarding the plan"
    assert normalize_subject(None) == ""


def test_message_without_id_gets_a_storable_thread_key() -> None:
    threads = assign_threads({7: _head(None, "Hello", 1)})
    assert threads[7] == "no-message-id:7"
    assert "\x00" not in threads[7]
