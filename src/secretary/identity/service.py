"""Users, sessions, API tokens and the audit log (ADR 0013).

Secrets (session cookies, API tokens) are 256 random bits; only their SHA-256 is stored.
A fast hash is enough for secrets of that entropy (no password to brute-force), and it lets
a lookup be one indexed equality. Lookups by secret happen before the caller is known, so
they run as the system role (``tenancy``); everything after runs as the user.
"""

from __future__ import annotations

import hashlib
import secrets
from collections.abc import Sequence
from datetime import timedelta
from typing import Any

from sqlalchemy import delete, select, update
from sqlalchemy.orm import Session

from secretary.db.models import ApiToken, AuditLog, GoogleAccount, User, WebSession
from secretary.identity.errors import SignInFailed, TokenNotFound
from secretary.identity.schemas import ALL_SCOPES
from secretary.kit.clock import utcnow
from secretary.kit.logging import get_logger

log = get_logger(__name__)

TOKEN_PREFIX = "sec_"  # noqa: S105 -- the public prefix of every token, not a secret
# Touch last_used_at / last_seen_at at most this often: a GET should not always write.
TOUCH_EVERY = timedelta(minutes=1)


def hash_secret(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


def record_audit(
    session: Session,
    *,
    user_id: int | None,
    action: str,
    actor: str = "user",
    account_id: int | None = None,
    details: dict[str, Any] | None = None,
) -> AuditLog:
    """One audit entry. ``details`` holds ids, counts and codes: never addresses, tokens or
    message content."""
    row = AuditLog(
        user_id=user_id, account_id=account_id, actor=actor, action=action, details=details or {}
    )
    session.add(row)
    session.flush()
    return row


def list_audit(
    session: Session, user_id: int, *, limit: int = 100, before_id: int | None = None
) -> Sequence[AuditLog]:
    stmt = select(AuditLog).where(AuditLog.user_id == user_id)
    if before_id is not None:
        stmt = stmt.where(AuditLog.id < before_id)
    return session.scalars(stmt.order_by(AuditLog.id.desc()).limit(limit)).all()


# --- users ----------------------------------------------------------------------------------


def find_or_create_user(
    session: Session, *, sub: str, email: str, name: str | None = None
) -> tuple[User, bool]:
    """The user Google's ``sub`` names (system role: the caller is not known yet).

    A user is Google's ``sub``, never the address (addresses are reassigned). A user made
    before sign-in existed is adopted once: the one whose connected Google account has this
    ``sub``, else the one with this (verified) address and no ``sub`` yet.
    """
    user = session.scalars(select(User).where(User.google_sub == sub)).first()
    if user is not None:
        return user, False
    account = session.scalars(
        select(GoogleAccount).where(GoogleAccount.google_sub == sub).order_by(GoogleAccount.id)
    ).first()
    if account is not None:
        user = session.get(User, account.user_id)
    if user is None:
        user = session.scalars(
            select(User).where(User.email == email, User.google_sub.is_(None))
        ).first()
    if user is not None and user.google_sub is None:
        user.google_sub = sub
        session.flush()
        return user, False
    taken = session.scalars(select(User.id).where(User.email == email)).first()
    if user is not None or taken is not None:
        # Another Google account (another sub) already is this user or holds this address
        # (Google reassigns addresses): never merge two people on an address.
        log.warning("identity.sub_conflict")
        raise SignInFailed(
            "This Google account's address already belongs to another Secretary user. "
            "Sign in with that Google account, or ask the administrator."
        )
    user = User(email=email, display_name=name, google_sub=sub)
    session.add(user)
    session.flush()
    return user, True


# --- sessions -------------------------------------------------------------------------------


def create_session(session: Session, user_id: int, *, ttl: timedelta) -> tuple[str, WebSession]:
    """A new browser session; returns the cookie value (shown once) and the row."""
    secret = secrets.token_urlsafe(32)
    now = utcnow()
    # Expired sessions are dead weight: each sign-in sweeps the user's own.
    session.execute(
        delete(WebSession).where(WebSession.user_id == user_id, WebSession.expires_at <= now)
    )
    row = WebSession(
        user_id=user_id,
        token_hash=hash_secret(secret),
        csrf_token=secrets.token_urlsafe(32),
        expires_at=now + ttl,
        last_seen_at=now,
    )
    session.add(row)
    session.flush()
    return secret, row


def resolve_session(session: Session, secret: str | None) -> WebSession | None:
    """The live session a cookie names, or None (unknown or expired)."""
    if not secret:
        return None
    row = session.scalars(
        select(WebSession).where(WebSession.token_hash == hash_secret(secret))
    ).first()
    now = utcnow()
    if row is None or row.expires_at <= now:
        return None
    if row.last_seen_at is None or now - row.last_seen_at > TOUCH_EVERY:
        row.last_seen_at = now
        session.flush()
    return row


def end_session(session: Session, secret: str | None) -> bool:
    if not secret:
        return False
    row = session.scalars(
        select(WebSession).where(WebSession.token_hash == hash_secret(secret))
    ).first()
    if row is None:
        return False
    session.delete(row)
    session.flush()
    return True


# --- API tokens -----------------------------------------------------------------------------


def create_token(
    session: Session,
    user_id: int,
    *,
    name: str,
    scopes: Sequence[str],
    expires_in_days: int | None = None,
) -> tuple[str, ApiToken]:
    """A new personal API token; the secret is returned here and never again."""
    unknown = set(scopes) - set(ALL_SCOPES)
    if unknown:
        raise ValueError(f"unknown scopes: {sorted(unknown)}")
    secret = TOKEN_PREFIX + secrets.token_urlsafe(32)
    row = ApiToken(
        user_id=user_id,
        name=name,
        prefix=secret[:12],
        token_hash=hash_secret(secret),
        scopes=[s for s in ALL_SCOPES if s in scopes],
        expires_at=utcnow() + timedelta(days=expires_in_days) if expires_in_days else None,
    )
    session.add(row)
    session.flush()
    record_audit(
        session,
        user_id=user_id,
        action="token.created",
        details={"token_id": row.id, "scopes": row.scopes},
    )
    return secret, row


def resolve_token(session: Session, secret: str | None) -> ApiToken | None:
    """The live token a bearer secret names (not revoked, not expired), or None."""
    if not secret or not secret.startswith(TOKEN_PREFIX):
        return None
    row = session.scalars(
        select(ApiToken).where(ApiToken.token_hash == hash_secret(secret))
    ).first()
    now = utcnow()
    if row is None or row.revoked_at is not None:
        return None
    if row.expires_at is not None and row.expires_at <= now:
        return None
    if row.last_used_at is None or now - row.last_used_at > TOUCH_EVERY:
        session.execute(update(ApiToken).where(ApiToken.id == row.id).values(last_used_at=now))
        row.last_used_at = now
    return row


def list_tokens(session: Session, user_id: int) -> Sequence[ApiToken]:
    return session.scalars(
        select(ApiToken).where(ApiToken.user_id == user_id).order_by(ApiToken.id)
    ).all()


def revoke_token(session: Session, user_id: int, token_id: int) -> ApiToken:
    """Revoke one of the user's tokens (idempotent); another user's token is not found."""
    row = session.get(ApiToken, token_id)
    if row is None or row.user_id != user_id:
        raise TokenNotFound(f"token {token_id} not found")
    if row.revoked_at is None:
        row.revoked_at = utcnow()
        session.flush()
        record_audit(session, user_id=user_id, action="token.revoked", details={"token_id": row.id})
    return row
