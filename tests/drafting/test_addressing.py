from __future__ import annotations

from secretary.drafting.addressing import build_reply, reply_subject

ME = "alex@example.com"


def reply(**kw: object):  # type: ignore[no-untyped-def]
    args: dict[str, object] = {
        "user_email": ME,
        "from_addr": "pat@example.org",
        "reply_to": None,
        "to": [ME],
        "cc": [],
        "subject": "Plans",
        "message_id_header": "<m1@example.org>",
        "references": [],
    }
    args.update(kw)
    return build_reply(**args)  # type: ignore[arg-type]


def test_subject_gets_one_re_prefix() -> None:
    assert reply_subject("Plans") == "Re: Plans"
    assert reply_subject("RE: Plans") == "Re: Plans"
    assert reply_subject("Aw: Plans") == "Re: Plans"
    assert reply_subject("") == "Re:"


def test_only_sender_when_the_user_alone_was_addressed() -> None:
    env = reply()
    assert env.to == ["pat@example.org"]
    assert env.cc == []
    assert env.in_reply_to == "<m1@example.org>"
    assert env.references == ["<m1@example.org>"]


def test_reply_all_when_addressed_with_others_but_never_to_self() -> None:
    env = reply(
        to=[f"Alex <{ME}>", "Kim <kim@example.net>"], cc=["lee@example.net", "ALEX@example.com"]
    )
    assert env.to == ["pat@example.org"]
    assert env.cc == ["kim@example.net", "lee@example.net"]


def test_reply_to_header_wins_and_references_chain_is_kept() -> None:
    env = reply(reply_to="list@example.org", references=["a@x", "<b@x>"], message_id_header="m2@x")
    assert env.to == ["list@example.org"]
    assert env.references == ["<a@x>", "<b@x>", "<m2@x>"]
    assert env.in_reply_to == "<m2@x>"


def test_answering_own_message_goes_to_its_recipients() -> None:
    env = reply(from_addr=ME, to=["kim@example.net"])
    assert env.to == ["kim@example.net"]
