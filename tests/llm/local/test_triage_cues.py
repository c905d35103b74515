"""The header and wording cues issue 13 added to the local tier (docs/evaluation.md).

Each test pairs a message with the same message minus the cue, so it fails if the cue stops
being read (a header dropped by the parser, a regex broken, a weight set to zero).
"""

from __future__ import annotations

import pytest

from secretary.eval import datasets as ds
from secretary.llm.local import LocalTier
from secretary.llm.local.extract import logistics_evidence
from secretary.llm.local.features import (
    authentication_failures,
    authentication_results,
    bulk_evidence,
    phishing_evidence,
)
from secretary.llm.schemas import Category, EmailInput, SenderStats
from tests.conftest import shared_data

_INVOICE = EmailInput(
    subject="Invoice 4471 for November",
    from_name="Accounts",
    from_addr="accounts@northwind-supplies.com",
    to=["dana@example.com"],
    user_email="dana@example.com",
    body_text="Hello, please find the November invoice attached. Regards, Accounts",
)
_FAILED = (
    "mx.google.com; dkim=fail header.i=@northwind-supplies.com; "
    "spf=fail (google.com: domain of accounts@northwind-supplies.com does not designate "
    "203.0.113.9 as permitted sender) smtp.mailfrom=accounts@northwind-supplies.com; "
    "dmarc=fail (p=REJECT) header.from=northwind-supplies.com"
)
_PASSED = (
    "mx.google.com; dkim=pass header.i=@northwind-supplies.com; spf=pass "
    "smtp.mailfrom=accounts@northwind-supplies.com; dmarc=pass header.from=northwind-supplies.com"
)


@pytest.fixture(scope="module")
def tier() -> LocalTier:
    return LocalTier()


def _with(email: EmailInput, **headers: str) -> EmailInput:
    return email.model_copy(update={"headers": {**email.headers, **headers}})


def test_failed_authentication_raises_the_spam_score(tier: LocalTier) -> None:
    forged = tier.classify(_with(_INVOICE, **{"Authentication-Results": _FAILED}))
    genuine = tier.classify(_with(_INVOICE, **{"Authentication-Results": _PASSED}))
    assert forged.scores["spam"] > genuine.scores["spam"] + 0.2, (forged.reason, genuine.reason)
    assert "DMARC failed" in forged.reason
    assert "DMARC" not in genuine.reason


def test_authentication_reads_the_topmost_header_and_received_spf() -> None:
    raw = (
        b"Authentication-Results: mx.google.com; spf=softfail smtp.mailfrom=x@bank.example; "
        b"dkim=none; dmarc=fail header.from=bank.example\r\n"
        b"Authentication-Results: attacker.example; spf=pass; dkim=pass; dmarc=pass\r\n"
        b"From: Bank <x@bank.example>\r\nTo: dana@example.com\r\nSubject: Notice\r\n\r\nHello\r\n"
    )
    email = ds.email_input_from_raw(raw)
    assert authentication_results(email) == {"spf": "softfail", "dkim": "none", "dmarc": "fail"}
    assert authentication_failures(email) == ["DMARC failed", "SPF softfail"]
    spf_only = EmailInput(headers={"Received-SPF": "fail (domain does not designate ...)"})
    assert authentication_failures(spf_only) == ["SPF fail"]


def test_list_mail_and_unauthenticated_mail() -> None:
    # Lists re-send mail and break SPF/DKIM legitimately: not judged.
    listed = _with(_INVOICE, **{"Authentication-Results": _FAILED, "List-Id": "<ops.example>"})
    assert authentication_failures(listed) == []
    bare = _with(_INVOICE, **{"Authentication-Results": "mx.google.com; spf=none; dkim=none"})
    assert authentication_failures(bare) == ["sender not authenticated (no SPF, DKIM or DMARC)"]
    assert authentication_failures(_INVOICE) == []  # no verdicts at all: nothing to say


def test_list_headers_mark_a_sender_run_newsletter(tier: LocalTier) -> None:
    letter = EmailInput(
        subject="What's new in gardening this spring",
        from_name="Greenleaf",
        from_addr="hello@greenleaf.example",
        to=["dana@example.com"],
        user_email="dana@example.com",
        body_text=(
            "Spring is here. Our team picked five plants that thrive in small gardens, "
            "and we visited a community orchard. Read the stories on our site."
        ),
    )
    bulk = _with(
        letter,
        **{
            "List-Unsubscribe": "<https://greenleaf.example/u/123>",
            "List-Unsubscribe-Post": "List-Unsubscribe=One-Click",
            "X-Mailer": "Mailchimp Mailer - **CIDa1b2c3**",
        },
    )
    assert bulk_evidence(bulk) == [
        "List-Unsubscribe without List-Id",
        "one-click unsubscribe",
        "sent by a bulk-mail system",
    ]
    with_headers, without = tier.classify(bulk), tier.classify(letter)
    assert with_headers.category == Category.NEWSLETTER, with_headers.reason
    assert with_headers.scores["newsletter"] > without.scores["newsletter"] + 0.3
    assert with_headers.priority.value == "low"


def test_discussion_lists_are_not_bulk() -> None:
    post = EmailInput(
        subject="[dev] Re: release branch",
        headers={
            "List-Id": "<dev.lists.example.org>",
            "List-Post": "<mailto:dev@lists.example.org>",
            "List-Unsubscribe": "<mailto:dev-leave@lists.example.org>",
            "Precedence": "list",
        },
    )
    assert bulk_evidence(post) == []


def test_meeting_logistics_words_raise_the_meeting_flag(tier: LocalTier) -> None:
    body = (
        "The review will be held in conference room EB 3321. Dial-in for those travelling: "
        "800-555-0100, passcode 4471. Agenda attached."
    )
    assert logistics_evidence(body) >= 4
    plain = "The review notes are attached. Numbers are in the second tab."
    logistics = EmailInput(subject="Review", from_addr="sam@example.org", body_text=body)
    other = EmailInput(subject="Review", from_addr="sam@example.org", body_text=plain)
    assert tier.classify(logistics).meeting_request
    assert (
        tier.classify(logistics).flag_confidences["meeting_request"]
        > tier.classify(other).flag_confidences["meeting_request"] + 0.3
    )


def test_a_thread_the_user_writes_in_is_not_spam(tier: LocalTier) -> None:
    body = "Congratulations, you won the raffle! Claim your prize at the party."
    email = EmailInput(
        subject="Re: Raffle at the party",
        from_addr="sam@partner.example",
        to=["dana@example.test"],
        user_email="dana@example.test",
        body_text=body,
        full_text=body,
    )
    in_thread = email.model_copy(update={"sender_stats": SenderStats(user_in_thread=True)})
    assert tier.classify(email).category == Category.SPAM
    assert tier.classify(in_thread).category != Category.SPAM


def test_a_calendar_invitation_is_a_meeting(tier: LocalTier) -> None:
    email = EmailInput(subject="Updated: Q4 review", body_text="Notes from the last one attached.")
    assert not tier.classify(email).meeting_request
    assert tier.classify(email.model_copy(update={"has_calendar_invite": True})).meeting_request


def test_phishing_pot_placeholder_sender_is_not_read_as_a_cue() -> None:
    """The set anonymised some senders to phishing@pot: a rule must not score the artefact."""
    root = shared_data("phishing_pot_sample").parent
    items = list(ds.load_phishing(root))
    masked = [i for i in items if b"\nFrom: phishing@pot" in (root / i.key).read_bytes()]
    assert masked  # the branch is exercised
    assert all(i.email.from_addr is None for i in masked)
    assert not any("malformed sender address" in phishing_evidence(i.email) for i in masked)
    forged = EmailInput(from_addr="avisos@receitafederal", subject="Aviso")
    assert "malformed sender address" in phishing_evidence(forged)
