"""Actions the planner proposes: written into the approval queue, never executed here.

A reply is a draft suggestion (mirrored to Gmail as a draft, which sends nothing) that waits
in the drafts queue like any other; events, RSVPs and shares are proposals for the user to
approve. Only the planner's own step kinds reach this module: retrieved text cannot add one,
and the allowlist below refuses anything else.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable, Mapping
from typing import Any

from sqlalchemy.orm import Session

from secretary.assistant import tools
from secretary.assistant.schemas import Intent, ProposedActionOut, Step, StepResult
from secretary.db.models import Message
from secretary.kit.clock import utcnow
from secretary.llm.schemas import IntelligenceTier

ALLOWED = frozenset(
    {"draft_email", "send_email", "create_event", "update_event", "respond_to_invite", "share_file"}
)
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
    """Events, RSVPs and shares go to the generic proposals queue when it is installed."""
    target = next((item for r in inputs.values() for item in r.items), None)
    if target is None:
        return StepResult(step_id=step.id, ok=False, error="nothing to act on was found")
    payload: dict[str, Any] = {
        "target": {"kind": target.kind, "id": target.id, "title": target.title}
    }
    if "response" in step.args:
        payload["response"] = step.args["response"]
    if step.args.get("people"):
        payload["people"] = list(step.args["people"])
    payload["instruction"] = intent.question
    try:
        # The generic approval queue (scheduling's proposals); looked up at run time so ask
        # works, minus these actions, where it is not installed.
        approvals: Any = importlib.import_module("secretary.approvals.service")
    except ImportError:
        return StepResult(
            step_id=step.id, ok=False, error=f"{step.action} proposals are not available"
        )
    summary = f"{step.action.replace('_', ' ')}: {target.title}"
    proposal = approvals.propose(
        session, user_id, kind=step.action, summary=summary, payload=payload
    )
    action = ProposedActionOut.model_validate(
        {"id": str(proposal.id), "kind": step.action, "summary": summary, "payload": payload}
    )
    return StepResult(
        step_id=step.id,
        ok=True,
        items=[target],
        value={"action": action.model_dump(), "summary": summary},
    )
