"""The audit log written from the changes themselves: whatever edge made them (API, web UI
form, CLI, MCP), a flush that sends, approves, rejects, edits or regenerates a draft, or
creates, changes or deletes a rule, adds its audit entry to the same transaction.

Installed once per process by ``install()`` (the composition root calls it). Entries hold
ids and states only, never addresses or content. The actor is the request's caller
(``session.info["principal"]``, set by ``web/auth.py``), else ``system``.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import event, inspect
from sqlalchemy.orm import Session

from secretary.db.models import AuditLog, Draft, Rule

# A draft's status change, as the user would name it.
_DRAFT_STATUS_ACTIONS = {
    "approved": "draft.approved",
    "sent": "draft.sent",
    "rejected": "draft.rejected",
    "superseded": "draft.regenerated",
}

_installed = False


def _actor(session: Session) -> str:
    principal = session.info.get("principal")
    return str(getattr(principal, "via", None) or "system")


def _changed(obj: Any, attr: str) -> tuple[Any, Any] | None:
    history = inspect(obj).attrs[attr].history
    if not history.has_changes():
        return None
    old = history.deleted[0] if history.deleted else None
    new = history.added[0] if history.added else None
    return old, new


def _entries(session: Session) -> list[AuditLog]:
    actor = _actor(session)
    out: list[AuditLog] = []

    def add(obj: Any, action: str, **details: Any) -> None:
        user_id = getattr(obj, "user_id", None)
        if user_id is None:
            return
        out.append(
            AuditLog(
                user_id=user_id,
                account_id=getattr(obj, "account_id", None),
                actor=actor,
                action=action,
                details=details,
            )
        )

    for obj in session.new:
        if isinstance(obj, Rule):
            add(obj, "rule.created", name_len=len(obj.name or ""))
    for obj in session.dirty:
        if isinstance(obj, Draft):
            status = _changed(obj, "status")
            if status is not None and status[1] in _DRAFT_STATUS_ACTIONS:
                add(obj, _DRAFT_STATUS_ACTIONS[status[1]], draft_id=obj.id, was=status[0])
            if _changed(obj, "body") is not None and obj.human_edited:
                add(obj, "draft.edited", draft_id=obj.id)
        elif isinstance(obj, Rule) and session.is_modified(obj, include_collections=False):
            add(obj, "rule.updated", rule_id=obj.id)
    for obj in session.deleted:
        if isinstance(obj, Rule):
            add(obj, "rule.deleted", rule_id=obj.id)
    return out


def record(
    session: Session, user_id: int, action: str, *, account_id: int | None = None, **details: Any
) -> None:
    """An entry for a change no single row shows (a bulk action over many messages)."""
    session.add(
        AuditLog(
            user_id=user_id,
            account_id=account_id,
            actor=_actor(session),
            action=action,
            details=details,
        )
    )


def _before_flush(session: Session, _flush_context: Any, _instances: Any) -> None:
    for entry in _entries(session):
        session.add(entry)


def install() -> None:
    """Register the flush hook once per process (idempotent)."""
    global _installed
    if not _installed:
        event.listen(Session, "before_flush", _before_flush)
        _installed = True
