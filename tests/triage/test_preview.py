"""Acceptance 5: a rule preview returns exactly the messages the rule matches.

The oracle is twofold: the generator knows which messages it built to match, and the
pipeline itself (``classify_message`` with the rule saved) must agree with the preview."""

from __future__ import annotations

import random
from datetime import timedelta

import pytest
from sqlalchemy.orm import Session

from secretary.config import Settings
from secretary.db.models import GoogleAccount, Label, Message, User
from secretary.kit.clock import utcnow
from secretary.triage import service
from secretary.triage.schemas import RuleActions, RuleConditions, RuleIn

DOMAINS = ["example.org", "news.example.org", "vendor.com", "friends.net"]
SUBJECTS = ["Invoice 12", "Lunch?", "Weekly digest", "Your receipt", "invoice overdue", "Hi"]


def _mailbox(session: Session, n: int = 120) -> tuple[int, list[Message]]:
    rng = random.Random(11)
    user = User(email=f"preview-{rng.random()}@example.com")
    session.add(user)
    session.flush()
    account = GoogleAccount(user_id=user.id, google_sub="1", email=user.email, scopes=[])
    session.add(account)
    session.flush()
    session.add(
        Label(user_id=user.id, account_id=account.id, gmail_label_id="Label_9", name="Finance")
    )
    now = utcnow()
    messages = []
    for i in range(n):
        domain = rng.choice(DOMAINS)
        is_list = rng.random() < 0.3
        m = Message(
            user_id=user.id,
            account_id=account.id,
            gmail_id=f"g{i}",
            gmail_thread_id=f"t{i}",
            internal_date=now - timedelta(hours=i),
            label_ids=["INBOX"] + (["Label_9"] if rng.random() < 0.2 else []),
            subject=rng.choice(SUBJECTS),
            from_addr=f"{rng.choice(['ann', 'bob', 'billing'])}@{domain}",
            to_addrs=[user.email] + (["team@example.com"] if rng.random() < 0.3 else []),
            cc_addrs=[],
            references=[],
            list_id="<digest.example.org>" if is_list else None,
            precedence=None,
            body_text=rng.choice(["Please pay by Friday.", "See you soon", "Unsubscribe here"]),
            has_attachments=rng.random() < 0.25,
        )
        session.add(m)
        messages.append(m)
    session.flush()
    return user.id, messages


def _expected(messages: list[Message], predicate) -> set[int]:  # type: ignore[no-untyped-def]
    return {m.id for m in messages if predicate(m)}


CASES = [
    (
        {"domain": ["example.org"]},
        lambda m: m.from_addr.split("@")[1] in {"example.org", "news.example.org"},
    ),
    (
        {"subject": "invoice", "has_attachment": True},
        lambda m: "invoice" in m.subject.lower() and m.has_attachments,
    ),
    (
        {"is_list": True, "from": ["ann@*"]},
        lambda m: m.list_id is not None and m.from_addr.startswith("ann@"),
    ),
    ({"label": ["finance"]}, lambda m: "Label_9" in m.label_ids),
    (
        {"match": "any", "to": ["team@example.com"], "body": "pay by"},
        lambda m: "team@example.com" in m.to_addrs or "pay by" in m.body_text.lower(),
    ),
]


@pytest.mark.parametrize(("conditions", "predicate"), CASES)
def test_preview_is_exact_and_agrees_with_the_pipeline(
    session: Session,
    settings: Settings,
    conditions,
    predicate,  # type: ignore[no-untyped-def]
) -> None:
    user_id, messages = _mailbox(session)
    expected = _expected(messages, predicate)
    assert 0 < len(expected) < len(messages)  # the case discriminates

    preview = service.preview_rule(
        session, user_id, RuleConditions.model_validate(conditions), limit=1000
    )
    assert preview.scanned == len(messages)
    assert preview.matched == len(expected)
    assert {p.id for p in preview.messages} == expected

    rule = service.create_rule(
        session,
        user_id,
        RuleIn(
            name="under test",
            conditions=RuleConditions.model_validate(conditions),
            actions=RuleActions(labels=["Matched"]),
        ),
    )
    fired = {
        m.id
        for m in messages
        if rule.id
        in service.classify_message(session, m.id, tier=None, settings=settings).matched_rule_ids
    }
    assert fired == expected


def test_preview_limit_keeps_the_exact_count(session: Session) -> None:
    user_id, messages = _mailbox(session)
    preview = service.preview_rule(
        session, user_id, RuleConditions.model_validate({"domain": ["friends.net"]}), limit=3
    )
    assert len(preview.messages) == 3
    assert preview.matched == sum(1 for m in messages if m.from_addr.endswith("@friends.net"))
    dates = [p.internal_date for p in preview.messages]
    assert dates == sorted(dates, reverse=True)  # newest first
