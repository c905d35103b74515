"""Cold outreach and newsletters get no draft unless a rule asks (issue 13): the demo's
sales pitch is detected from the sender's history and its wording and gets no draft, with
the reason stored; a real-looking first message from a person still gets one."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker
from workspace_emulator.demo import DEMO_WORKSPACE

from secretary.db.models import Draft, Message, TriageResult
from secretary.llm.schemas import Category, Priority
from secretary.triage.rules import RuleOutcome
from secretary.triage.steps.decide import decide
from secretary.triage.steps.outreach import SenderHistory, cold_outreach_reason
from tests.sync.conftest import Connected
from tests.triage.conftest import InlineThread
from tests.triage.helpers import raw_message, sync_now

OUTREACH = DEMO_WORKSPACE / "mail" / "INBOX" / "2026-11-16-outreach.eml"
NEW = SenderHistory(messages_from_sender=0, user_wrote_to_sender=False, earlier_in_thread=0)
PERSONAL = (
    "Hi Alex,\n\nI'm Jordan Lee, I just joined the facilities team. Could you send me the "
    "floor plan for the third floor before Thursday? I need it for the desk moves.\n\n"
    "Thanks,\nJordan"
)


def test_cold_outreach_needs_a_first_contact_and_a_pitch() -> None:
    pitch = OUTREACH.read_text(encoding="utf-8").replace("=\n", "")
    reason = cold_outreach_reason("Quick question about your pipeline, Alex", pitch, NEW,
                                  classifier_flag=False)  # fmt: skip
    assert reason is not None
    assert reason.startswith("cold outreach: first contact")
    assert '"3x more"' in reason
    # Someone the user wrote to, or a thread the user is in, is never cold.
    wrote = SenderHistory(messages_from_sender=0, user_wrote_to_sender=True, earlier_in_thread=0)
    assert cold_outreach_reason("Quick question", pitch, wrote, classifier_flag=True) is None
    replied = SenderHistory(messages_from_sender=1, user_wrote_to_sender=False, earlier_in_thread=1)
    assert cold_outreach_reason("Quick question", pitch, replied, classifier_flag=False) is None
    # A person's first message with a real request is not a pitch.
    assert cold_outreach_reason("Floor plan", PERSONAL, NEW, classifier_flag=False) is None


def _by_subject(sessions: sessionmaker[Session], account_id: int, subject: str) -> Message:
    with sessions() as s:
        return s.scalars(
            select(Message).where(Message.account_id == account_id, Message.subject == subject)
        ).one()


def test_pipeline_skips_the_pitch_and_drafts_the_person(
    connected: Connected, sessions: sessionmaker[Session], inline: InlineThread
) -> None:
    box = connected.emulator.state.users[connected.email].mailbox
    sync_now(sessions, connected.account_id, connected.settings)
    pitch = OUTREACH.read_bytes()
    box.add_message(pitch, label_ids={"INBOX"})
    personal, _ = raw_message(
        to=connected.email, sender="Jordan Lee <jordan.lee@example.org>",
        subject="Floor plan for the desk moves", body=PERSONAL,
    )  # fmt: skip
    box.add_message(personal, label_ids={"INBOX"})
    sync_now(sessions, connected.account_id, connected.settings)
    inline.wait_idle()

    cold = _by_subject(sessions, connected.account_id, "Quick question about your pipeline, Alex")
    person = _by_subject(sessions, connected.account_id, "Floor plan for the desk moves")
    with sessions() as s:
        verdicts = {
            r.message_id: r
            for r in s.scalars(
                select(TriageResult).where(TriageResult.message_id.in_([cold.id, person.id]))
            )
        }
        drafted = set(s.scalars(select(Draft.message_id)))
    assert verdicts[cold.id].cold_outreach is True
    assert verdicts[cold.id].priority == Priority.LOW
    assert (verdicts[cold.id].no_draft_reason or "").startswith("cold outreach: first contact")
    assert "cold outreach" in verdicts[cold.id].reason
    assert cold.id not in drafted  # no draft offering to find a time
    assert verdicts[person.id].cold_outreach is False
    assert verdicts[person.id].no_draft_reason is None
    assert person.id in drafted


def test_a_rule_can_still_ask_for_a_draft_and_newsletters_say_why(session: Session) -> None:
    from secretary.triage.steps.outreach import refine

    pitch = OUTREACH.read_text(encoding="utf-8").replace("=\n", "")
    message = Message(
        subject="Quick question about your pipeline, Alex", body_text=pitch,
        from_addr="sam@growthleads.example", account_id=0, gmail_thread_id="t",
    )  # fmt: skip
    labels: dict[str, str] = {}
    always = decide(None, RuleOutcome(category=Category.NEEDS_REPLY, draft="always",
                                      matched_ids=[7]), category_labels=labels)  # fmt: skip
    decision, why = refine(session, message, always)
    assert decision.cold_outreach is True
    assert decision.should_draft is True  # the rule asked for one
    assert why is None
    newsletter = decide(None, RuleOutcome(category=Category.NEWSLETTER, matched_ids=[8]),
                        category_labels=labels)  # fmt: skip
    message.body_text, message.subject = "This week: five new recipes.", "Weekly digest"
    decision, why = refine(session, message, newsletter)
    assert decision.should_draft is False
    assert why == "newsletter"
