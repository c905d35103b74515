"""The headers the local triage tier reads beyond the columns (issue 13) survive the sync,
on the initial path (``threads.get`` payloads and ``messages.get`` raw) and the incremental
one, and reach the tier when the product classifies the message. Emulator over HTTP, real
Postgres."""

from __future__ import annotations

from email.message import EmailMessage
from email.utils import format_datetime, make_msgid

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from secretary.db.models import Message
from secretary.kit.clock import utcnow
from secretary.llm.local import LocalTier
from secretary.sync import service
from secretary.triage.service import classify_message
from tests.sync.conftest import Connected, make_raw

# The user's provider adds its verdicts on top; the lower one came with the message and
# claims a pass (a forger can write anything below the receiving server's header).
OWN_RESULTS = (
    "mx.google.com; dkim=none; spf=softfail (google.com: domain of transitioning "
    "billing@bank.example does not designate 203.0.113.7 as permitted sender) "
    "smtp.mailfrom=billing@bank.example; dmarc=fail (p=REJECT sp=REJECT dis=QUARANTINE) "
    "header.from=bank.example"
)
FORGED_RESULTS = "mail.bank.example; spf=pass; dkim=pass; dmarc=pass"
RECEIVED_SPF = "softfail (google.com: transitioning billing@bank.example) client-ip=203.0.113.7"
PHISH_BODY = (
    "Dear customer,\n\nWe noticed unusual activity on your account. Please review the "
    "attached statement and confirm your details by Friday.\n\nBilling team\n"
)


def _phish(*, authenticated: bool, in_reply_to: str | None = None) -> bytes:
    msg = EmailMessage()
    if authenticated:
        msg["Authentication-Results"] = OWN_RESULTS
        msg["Received-SPF"] = RECEIVED_SPF
        msg["Authentication-Results"] = FORGED_RESULTS
    msg["From"] = "Bank Billing <billing@bank.example>"
    msg["To"] = "owner@example.com"
    msg["Subject"] = "Re: Your statement" if in_reply_to else "Your statement"
    msg["Date"] = format_datetime(utcnow())
    msg["Message-ID"] = make_msgid(domain="bank.example")
    if in_reply_to:
        msg["In-Reply-To"] = in_reply_to
        msg["References"] = in_reply_to
    msg.set_content(PHISH_BODY)
    return bytes(msg)


def _stored(sessions: sessionmaker[Session], account_id: int, gmail_id: str) -> Message:
    with sessions() as session:
        message = session.scalars(
            select(Message).where(Message.account_id == account_id, Message.gmail_id == gmail_id)
        ).one()
        session.expunge(message)
        return message


def test_sync_keeps_the_topmost_verdicts_and_triage_sees_them(
    sessions: sessionmaker[Session], connected: Connected
) -> None:
    mailbox = connected.emulator.state.users[connected.email].mailbox
    # A thread (fetched with threads.get, rebuilt from its payload) and a lone message
    # (messages.get, raw) with the same words, one authenticated by the user's provider
    # as a DMARC failure and one without any verdict.
    opener_raw, opener_mid = make_raw(subject="Your statement")
    opener = mailbox.add_message(opener_raw, label_ids={"INBOX"})
    failed = mailbox.add_message(
        _phish(authenticated=True, in_reply_to=opener_mid),
        label_ids={"INBOX"},
        thread_id=opener.thread_id,
    )
    plain = mailbox.add_message(_phish(authenticated=False), label_ids={"INBOX"})
    service.run_sync(sessions, connected.account_id, connected.settings)

    stored = _stored(sessions, connected.account_id, failed.id)
    assert stored.triage_headers == {
        "authentication_results": OWN_RESULTS,  # unfolded, the forged pass below ignored
        "received_spf": RECEIVED_SPF,
    }
    assert _stored(sessions, connected.account_id, plain.id).triage_headers is None

    # The incremental path: a sender-run newsletter with one-click unsubscribe.
    news = EmailMessage()
    news["From"] = "Deals <news@shop.example>"
    news["To"] = connected.email
    news["Subject"] = "This week's picks"
    news["List-Unsubscribe"] = "<https://shop.example/u/1>"
    news["List-Unsubscribe-Post"] = "List-Unsubscribe=One-Click"
    news["X-Mailer"] = "Mailchimp Mailer - **CID1234**"
    news.set_content("Our picks for you this week.\n")
    added = mailbox.add_message(bytes(news), label_ids={"INBOX"})
    report = service.run_sync(sessions, connected.account_id, connected.settings)
    assert report.fetched == 1
    assert _stored(sessions, connected.account_id, added.id).triage_headers == {
        "list_unsubscribe_post": "List-Unsubscribe=One-Click",
        "x_mailer": "Mailchimp Mailer - **CID1234**",
    }

    # What the product decides (classify_message reads the stored row), not a hand-built
    # EmailInput: the same words score higher as spam once the DMARC failure is known.
    tier = LocalTier()
    with sessions() as session:
        ids = dict(
            session.execute(
                select(Message.gmail_id, Message.id).where(
                    Message.account_id == connected.account_id
                )
            ).all()
        )
        with_verdict = classify_message(
            session, ids[failed.id], tier=tier, settings=connected.settings
        )
        without = classify_message(session, ids[plain.id], tier=tier, settings=connected.settings)
        newsletter = classify_message(
            session, ids[added.id], tier=tier, settings=connected.settings
        )
        session.rollback()
    assert "DMARC failed" in with_verdict.reason
    assert "SPF softfail" in with_verdict.reason
    assert "DMARC" not in without.reason
    assert with_verdict.scores["spam"] > without.scores["spam"], (with_verdict, without)
    assert "one-click unsubscribe" in newsletter.reason
    assert "sent by a bulk-mail system" in newsletter.reason
