"""All SQL of the accounts domain. Functions take a session, flush, and never commit."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import delete, func, select
from sqlalchemy.orm import Session

from secretary.db.models import AuditLog, GoogleAccount, User


def get_account(session: Session, account_id: int) -> GoogleAccount | None:
    return session.get(GoogleAccount, account_id)


def reload_account(session: Session, account_id: int) -> GoogleAccount | None:
    """Read the committed row again, replacing any stale copy in the identity map."""
    stmt = (
        select(GoogleAccount)
        .where(GoogleAccount.id == account_id)
        .execution_options(populate_existing=True)
    )
    return session.scalars(stmt).one_or_none()


def lock_account(session: Session, account_id: int) -> GoogleAccount | None:
    """``SELECT … FOR UPDATE``: serializes token refreshes of one account across processes."""
    stmt = (
        select(GoogleAccount)
        .where(GoogleAccount.id == account_id)
        .with_for_update()
        .execution_options(populate_existing=True)
    )
    return session.scalars(stmt).one_or_none()


def list_accounts(session: Session, *, user_id: int | None = None) -> Sequence[GoogleAccount]:
    stmt = select(GoogleAccount).order_by(GoogleAccount.id)
    if user_id is not None:
        stmt = stmt.where(GoogleAccount.user_id == user_id)
    return session.scalars(stmt).all()


def accounts_with_tokens(session: Session) -> Sequence[GoogleAccount]:
    stmt = (
        select(GoogleAccount)
        .where(
            GoogleAccount.access_token_enc.is_not(None)
            | GoogleAccount.refresh_token_enc.is_not(None)
        )
        .order_by(GoogleAccount.id)
        .with_for_update()
    )
    return session.scalars(stmt).all()


def find_accounts_by_sub(
    session: Session, google_sub: str, *, user_id: int | None = None
) -> Sequence[GoogleAccount]:
    stmt = select(GoogleAccount).where(GoogleAccount.google_sub == google_sub)
    if user_id is not None:
        stmt = stmt.where(GoogleAccount.user_id == user_id)
    return session.scalars(stmt.order_by(GoogleAccount.id)).all()


def get_user(session: Session, user_id: int) -> User | None:
    return session.get(User, user_id)


def get_user_by_email(session: Session, email: str) -> User | None:
    stmt = select(User).where(func.lower(User.email) == email.lower())
    return session.scalars(stmt).one_or_none()


def only_user(session: Session) -> User | None:
    """The single user of a single-user install; None when there are none or several."""
    users = session.scalars(select(User).order_by(User.id).limit(2)).all()
    return users[0] if len(users) == 1 else None


def create_user(session: Session, *, email: str, display_name: str | None) -> User:
    user = User(email=email, display_name=display_name)
    session.add(user)
    session.flush()
    return user


def create_account(session: Session, **values: Any) -> GoogleAccount:
    account = GoogleAccount(**values)
    session.add(account)
    session.flush()
    return account


def delete_account(session: Session, account_id: int) -> None:
    # Messages, threads, labels, sync state and audit rows of the account go with it
    # (ON DELETE CASCADE in the schema).
    session.execute(delete(GoogleAccount).where(GoogleAccount.id == account_id))
    session.flush()


def add_audit(
    session: Session,
    *,
    action: str,
    user_id: int | None,
    account_id: int | None,
    actor: str = "system",
    details: dict[str, Any] | None = None,
) -> AuditLog:
    """``details`` must never hold addresses, tokens or message content."""
    row = AuditLog(
        user_id=user_id, account_id=account_id, actor=actor, action=action, details=details or {}
    )
    session.add(row)
    session.flush()
    return row
