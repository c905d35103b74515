"""Actions the planner proposes: written into the approval queue, never executed here.

A reply is a draft suggestion (mirrored to Gmail as a draft, which sends nothing) that waits
in the drafts queue like any other; events, RSVPs and shares are proposals for the user to
approve. Only the planner's own step kinds reach this module: retrieved text cannot add one,
and the allowlist below refuses anything else.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from sqlalchemy.orm import Session

from secretary.assistant import tools
from secretary.assistant.schemas import Intent, ProposedActionOut, Step, StepResult
from secretary.db.models import Message
from secretary.errors import BadRequest, ConfigurationError, Conflict
from secretary.kit.clock import utcnow
from secretary.llm.schemas import IntelligenceTier

ALLOWED = frozenset(
    {"draft_email", "send_email", "create_event", "update_event", "respond_to_invite", "share_file"}
)
_RESPONSES = {
    "accept": "accepted",
    "rsvp": "accepted",
    "decline": "declined",
    "tentative": "tentative",
}
TierFactory = Callable[[], IntelligenceTier | None]


def make_proposer(
    tier: TierFactory,
) -> Callable[[Session, int, Step, Mapping[str, StepResult], Intent], StepResult]:
    """The ``ActionProposer`` for ``AskDeps``: proposals in the step's transaction."""

    def propose(
        session: Session,
        user_id: int,
        step: Step,
        inputs: Mapping[str, StepResult],
        intent: Intent,
    ) -> StepResult:
        if step.action not in ALLOWED:
            return StepResult(step_id=step.id, ok=False, error=f"{step.action} is not allowed")
        if step.action == "draft_email":
            return _propose_reply(session, user_id, step, inputs, intent, tier())
        return _propose_generic(session, user_id, step, inputs, intent)

    return propose


def _target_message(
    session: Session, user_id: int, inputs: Mapping[str, StepResult], intent: Intent
) -> Message | None:
    people = intent.entities.people + intent.entities.emails
    if people:
        found = tools.latest_message_from(session, user_id, people, now=utcnow())
        if found is not None:
            return found
    for result in inputs.values():
        for item in result.items:
            if item.kind == "email":
                return tools.read_message(session, user_id, item.id)
    return None


def _propose_reply(
    session: Session,
    user_id: int,
    step: Step,
    inputs: Mapping[str, StepResult],
    intent: Intent,
    tier: IntelligenceTier | None,
) -> StepResult:
    from secretary.drafting import service as drafting
    from secretary.drafting.tasks import GMAIL_DRAFT_TASK
    from secretary.worker import repository as tasks_repo

    message = _target_message(session, user_id, inputs, intent)
    if message is None:
        return StepResult(step_id=step.id, ok=False, error="no message to reply to was found")
    if tier is None:
        return StepResult(step_id=step.id, ok=False, error="no drafting model is available")
    draft = drafting.generate_draft(
        session, message.id, tier=tier, instruction=str(step.args.get("instruction") or "")
    )
    if draft is None:
        return StepResult(step_id=step.id, ok=False, error="the drafter declined to reply")
    if draft.gmail_draft_id is None:
        tasks_repo.enqueue(
            session,
            GMAIL_DRAFT_TASK,
            {"draft_id": draft.id},
            dedupe_key=f"{GMAIL_DRAFT_TASK}:{draft.id}",
            user_id=user_id,
            message_id=message.id,
        )
    recipients = ", ".join(draft.to_addrs or [])
    action = ProposedActionOut(
        id=f"draft:{draft.id}",
        kind="draft_email",
        summary=f"Reply to {recipients or 'the sender'}: {draft.subject}",
        payload={
            "draft_id": draft.id,
            "message_id": message.gmail_id,
            "thread_id": message.gmail_thread_id,
            "to": list(draft.to_addrs or []),
            "cc": list(draft.cc_addrs or []),
            "subject": draft.subject,
            "body": draft.body,
        },
    )
    return StepResult(
        step_id=step.id,
        ok=True,
        items=[tools.message_item(message)],
        value={"action": action.model_dump(), "summary": action.summary},
    )


def _propose_generic(
    session: Session,
    user_id: int,
    step: Step,
    inputs: Mapping[str, StepResult],
    intent: Intent,
) -> StepResult:
    """RSVPs, event changes and shares: proposals in the approval queue."""
    target = next((item for r in inputs.values() for item in r.items), None)
    if target is None:
        return StepResult(step_id=step.id, ok=False, error="nothing to act on was found")
    payload: dict[str, Any] = {
        "target": {"kind": target.kind, "id": target.id, "title": target.title},
        "instruction": intent.question,
    }
    account_id: int | None = None
    if target.kind == "event":
        located = tools.event_location(session, user_id, target.id)
        if located is not None:
            account_id, payload["calendar_id"], payload["event_id"] = located
    elif target.kind == "file":
        account_id = tools.file_account(session, user_id, target.id)
        payload["file_id"] = target.id
        payload["emails"] = list(step.args.get("people") or intent.entities.emails)
        payload["role"] = "reader"
    if "response" in step.args:
        verb = str(step.args["response"])
        payload["response"] = _RESPONSES.get(verb, "accepted")
    summary = f"{step.action.replace('_', ' ')}: {target.title}"
    action = propose(session, user_id, step.action, summary, payload, account_id=account_id)
    return StepResult(
        step_id=step.id,
        ok=True,
        items=[target],
        value={"action": action, "summary": summary},
    )


def propose(
    session: Session,
    user_id: int,
    kind: str,
    summary: str,
    payload: dict[str, Any],
    *,
    account_id: int | None = None,
) -> dict[str, Any]:
    """Put a proposal (an event, an RSVP, a share) in the approval queue."""
    from secretary.approvals import service as approvals

    if kind not in ALLOWED or kind in ("draft_email", "send_email"):
        raise BadRequest(f"{kind} cannot be proposed here", code="action_not_allowed")
    row = approvals.propose(
        session,
        user_id=user_id,
        kind=kind,
        summary=summary,
        payload=payload,
        account_id=account_id,
        source="assistant",
    )
    return ProposedActionOut.model_validate(
        {"id": str(row.id), "kind": kind, "summary": summary, "payload": payload}
    ).model_dump(mode="json")


def propose_reply(
    session: Session,
    user_id: int,
    message_id: str,
    *,
    body: str | None,
    instruction: str | None,
    tier: IntelligenceTier | None,
) -> ProposedActionOut:
    """A reply to ``message_id`` (a Gmail id) waiting in the drafts queue: ``body`` as
    written, or drafted by the tier following ``instruction``. Mirrored to Gmail as a draft
    (which sends nothing); approval in Secretary sends it."""
    import uuid

    from secretary.db.models import Draft, DraftStatus, GoogleAccount
    from secretary.drafting import service as drafting
    from secretary.drafting.addressing import build_reply
    from secretary.drafting.tasks import GMAIL_DRAFT_TASK
    from secretary.worker import repository as tasks_repo

    message = tools.read_message(session, user_id, message_id)
    if body is not None and body.strip():
        existing = drafting.active_draft(session, message.id)
        if existing is not None:
            raise Conflict(
                "this message already has a reply waiting for approval", code="draft_exists"
            )
        account = session.get(GoogleAccount, message.account_id)
        envelope = build_reply(
            user_email=account.email if account else "",
            from_addr=message.from_addr,
            reply_to=message.reply_to,
            to=message.to_addrs or [],
            cc=message.cc_addrs or [],
            subject=message.subject,
            message_id_header=message.message_id_header,
            references=message.references or [],
        )
        draft = Draft(
            user_id=user_id,
            account_id=message.account_id,
            message_id=message.id,
            draft_key=uuid.uuid4().hex,
            status=DraftStatus.PENDING,
            gmail_thread_id=message.gmail_thread_id,
            subject=envelope.subject,
            to_addrs=envelope.to,
            cc_addrs=envelope.cc,
            in_reply_to=envelope.in_reply_to,
            references=envelope.references,
            body=body.strip(),
            intent="proposed",
            confidence=0.5,
            model="mcp",
        )
        session.add(draft)
        session.flush()
    else:
        if tier is None:
            raise ConfigurationError("no drafting model is available")
        generated = drafting.generate_draft(
            session, message.id, tier=tier, instruction=instruction or None
        )
        if generated is None:
            raise Conflict("the drafter declined to reply to this message", code="no_draft")
        draft = generated
    if draft.gmail_draft_id is None:
        tasks_repo.enqueue(
            session,
            GMAIL_DRAFT_TASK,
            {"draft_id": draft.id},
            dedupe_key=f"{GMAIL_DRAFT_TASK}:{draft.id}",
            user_id=user_id,
            message_id=message.id,
        )
    return ProposedActionOut(
        id=f"draft:{draft.id}",
        kind="draft_email",
        summary=f"Reply to {', '.join(draft.to_addrs or []) or 'the sender'}: {draft.subject}",
        payload={
            "draft_id": draft.id,
            "message_id": message.gmail_id,
            "thread_id": message.gmail_thread_id,
            "to": list(draft.to_addrs or []),
            "cc": list(draft.cc_addrs or []),
            "subject": draft.subject,
            "body": draft.body,
        },
    )


def pending(session: Session, user_id: int) -> list[dict[str, Any]]:
    """Everything waiting for the user's approval, newest first."""
    from secretary.drafting import service as drafting

    out: list[dict[str, Any]] = [
        {
            "id": f"draft:{draft.id}",
            "kind": "draft_email",
            "status": "pending_approval",
            "summary": f"Reply: {draft.subject}",
            "payload": {"draft_id": draft.id, "to": list(draft.to_addrs or []), "body": draft.body},
        }
        for draft in drafting.list_drafts(session, user_id=user_id, limit=100)
    ]
    from secretary.approvals import service as approvals

    out.extend(
        {
            "id": str(row.id),
            "kind": row.kind,
            "status": "pending_approval",
            "summary": row.summary,
            "payload": row.payload,
        }
        for row in approvals.list_actions(session, user_id)
    )
    return out
