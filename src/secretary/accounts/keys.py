"""Key rotation: re-encrypt every stored token with the newest configured key."""

from __future__ import annotations

from cryptography.fernet import InvalidToken
from sqlalchemy.orm import Session

from secretary.accounts import repository as repo
from secretary.accounts.tokens import cipher_for
from secretary.config import Settings
from secretary.errors import ConfigurationError
from secretary.kit.logging import get_logger

log = get_logger(__name__)


def rotate_token_keys(session: Session, *, settings: Settings) -> int:
    """Re-encrypt every stored token under the newest key; returns how many accounts.

    Keep the old key in ``SECRETARY_ENCRYPTION_KEYS`` (after the new one) until this has
    run; afterwards it can be removed.
    """
    cipher = cipher_for(settings)
    count = 0
    for account in repo.accounts_with_tokens(session):
        try:
            if account.access_token_enc is not None:
                account.access_token_enc = cipher.rotate(account.access_token_enc)
            if account.refresh_token_enc is not None:
                account.refresh_token_enc = cipher.rotate(account.refresh_token_enc)
        except InvalidToken as exc:
            raise ConfigurationError(
                f"The tokens of account {account.id} cannot be decrypted with any configured "
                "key; keep the old key in SECRETARY_ENCRYPTION_KEYS (after the new one) "
                "until rotation has run"
            ) from exc
        count += 1
    session.flush()
    repo.add_audit(
        session,
        action="keys.rotated",
        user_id=None,
        account_id=None,
        actor="user",
        details={"accounts": count},
    )
    log.info("token_keys_rotated", accounts=count)
    return count
