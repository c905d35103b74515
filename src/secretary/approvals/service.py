"""Propose, list, approve and reject actions; apply through the owner domain's applier.

One request is one transaction: approving flips the row to ``applying``, runs the applier
(which calls Google idempotently: a deterministic event id, a keyed confirmation mail) and
records ``applied`` with its result. If anything fails the transaction rolls back, the row
is still ``pending_approval`` and approving again is safe.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import select
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.orm import Session

from secretary.approvals.schemas import KINDS
from secretary.db.models import ProposedAction, ProposedActionStatus
from secretary.errors import Conflict, NotFound
from secretary.kit.clock import utcnow
from secretary.kit.logging import get_logger

log = get_logger(__name__)


class ActionNotFound(NotFound):
    code = "action_not_found"


class ActionNotPending(Conflict):
    code = "action_not_pending"


@dataclass
class Outcome:
    """What an applier did: ``applied`` (result recorded) or ``superseded`` (e.g. the slot
    was taken and new slots were proposed instead)."""

    status: str = ProposedActionStatus.APPLIED
    result: dict[str, Any] = field(default_factory=dict)


@dataclass
class ApplyContext:
    """The ports an applier may use, built by the edge (per process, per account)."""

    calendar: Callable[[Session, int], Any] | None = None
    gmail: Callable[[Session, int], Any] | None = None
    drive: Callable[[Session, int], Any] | None = None
    choices: dict[str, Any] = field(default_factory=dict)


Applier = Callable[[Session, ProposedAction, ApplyContext], Outcome]
_appliers: dict[str, Applier] = {}


def register_applier(kind: str) -> Callable[[Applier], Applier]:
    """Domains register how to apply their kinds (``@register_applier("create_event")``)."""
    if kind not in KINDS:
        raise ValueError(f"unknown action kind {kind!r}")

    def decorate(fn: Applier) -> Applier:
        _appliers[kind] = fn
        return fn

    return decorate


def _load_appliers() -> None:
    # The scheduling appliers register on import; importing here keeps the edges simple.
    import secretary.assistant.appliers
    import secretary.scheduling.booking
    import secretary.scheduling.invitations  # noqa: F401


def propose(
    session: Session,
    *,
    user_id: int,
    kind: str,
    summary: str,
    payload: dict[str, Any],
    account_id: int | None = None,
    dedupe_key: str | None = None,
    source: str = "",
    gmail_thread_id: str | None = None,
) -> ProposedAction:
    """A new ``pending_approval`` action, or the existing one with the same ``dedupe_key``."""
    if kind not in KINDS:
        raise ValueError(f"unknown action kind {kind!r}")
    if dedupe_key is not None:
        stmt = (
            insert(ProposedAction)
            .values(
                user_id=user_id,
                account_id=account_id,
                kind=kind,
                status=ProposedActionStatus.PENDING,
                summary=summary,
                payload=payload,
                source=source,
                gmail_thread_id=gmail_thread_id,
                dedupe_key=dedupe_key,
            )
            .on_conflict_do_nothing(index_elements=["user_id", "dedupe_key"])
            .returning(ProposedAction.id)
        )
        new_id = session.execute(stmt).scalar_one_or_none()
        row = session.scalars(
            select(ProposedAction).where(
                ProposedAction.user_id == user_id, ProposedAction.dedupe_key == dedupe_key
            )
        ).one()
        if new_id is not None:
            log.info("action_proposed", action_id=row.id, kind=kind, source=source)
        return row
    row = ProposedAction(
        user_id=user_id,
        account_id=account_id,
        kind=kind,
        status=ProposedActionStatus.PENDING,
        summary=summary,
        payload=payload,
        source=source,
        gmail_thread_id=gmail_thread_id,
    )
    session.add(row)
    session.flush()
    log.info("action_proposed", action_id=row.id, kind=kind, source=source)
    return row


def list_actions(
    session: Session,
    user_id: int,
    *,
    status: str | None = ProposedActionStatus.PENDING,
    kind: str | None = None,
    limit: int = 100,
) -> Sequence[ProposedAction]:
    stmt = select(ProposedAction).where(ProposedAction.user_id == user_id)
    if status is not None:
        stmt = stmt.where(ProposedAction.status == status)
    if kind is not None:
        stmt = stmt.where(ProposedAction.kind == kind)
    return session.scalars(stmt.order_by(ProposedAction.id.desc()).limit(limit)).all()


def get_action(session: Session, user_id: int, action_id: int) -> ProposedAction:
    """The user's action; another user's is "not found", never "forbidden"."""
    row = session.get(ProposedAction, action_id)
    if row is None or row.user_id != user_id:
        raise ActionNotFound(f"action {action_id} not found")
    return row


def reject_action(session: Session, user_id: int, action_id: int) -> ProposedAction:
    row = get_action(session, user_id, action_id)
    if row.status == ProposedActionStatus.REJECTED:
        return row
    if row.status != ProposedActionStatus.PENDING:
        raise ActionNotPending(f"action {action_id} is {row.status}")
    row.status = ProposedActionStatus.REJECTED
    row.decided_at = utcnow()
    session.flush()
    _notify_rejected(session, row)
    return row


def _notify_rejected(session: Session, row: ProposedAction) -> None:
    if row.kind == "create_event" and row.source == "scheduling":
        from secretary.scheduling import booking

        booking.on_rejected(session, row)


def approve_action(
    session: Session, user_id: int, action_id: int, *, context: ApplyContext
) -> ProposedAction:
    """Apply the action now (idempotent: an applied action is returned unchanged)."""
    row = get_action(session, user_id, action_id)
    if row.status in (ProposedActionStatus.APPLIED, ProposedActionStatus.SUPERSEDED):
        return row
    if row.status not in (ProposedActionStatus.PENDING, ProposedActionStatus.APPLYING):
        raise ActionNotPending(f"action {action_id} is {row.status}")
    row.status = ProposedActionStatus.APPLYING
    row.decided_at = row.decided_at or utcnow()
    session.flush()
    return apply_action(session, row, context=context)


def apply_action(session: Session, row: ProposedAction, *, context: ApplyContext) -> ProposedAction:
    """Run the registered applier for an approved (``applying``) action."""
    if row.status in (ProposedActionStatus.APPLIED, ProposedActionStatus.SUPERSEDED):
        return row
    if row.status != ProposedActionStatus.APPLYING:
        raise ActionNotPending(f"action {row.id} is {row.status}, not approved")
    _load_appliers()
    applier = _appliers.get(row.kind)
    if applier is None:
        raise Conflict(f"no applier for {row.kind!r} actions", code="action_not_applicable")
    outcome = applier(session, row, context)
    row.status = outcome.status
    row.result = outcome.result
    row.applied_at = utcnow()
    session.flush()
    log.info("action_applied", action_id=row.id, kind=row.kind, status=row.status)
    return row
