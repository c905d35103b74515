"""CSRF protection for the UI's form posts: a random nonce in a ``SameSite=Strict`` cookie
and, in each form, an HMAC of that nonce under a key derived from the newest encryption key.

Hand-rolled (a dozen lines) because the UI has no login session to hang a library's token
on; the double-submit-with-signature pattern needs only the cookie and the key.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets

from secretary.config import Settings
from secretary.errors import SecretaryError

COOKIE_NAME = "secretary_csrf"


class CsrfFailed(SecretaryError):
    status_code = 403
    code = "csrf_failed"


def _key(settings: Settings) -> bytes:
    # Derived, so the Fernet key itself never signs anything visible in a page.
    root = settings.encryption_keys[0].get_secret_value().encode()
    return hmac.new(root, b"secretary/ui-csrf/v1", hashlib.sha256).digest()


def new_nonce() -> str:
    return secrets.token_urlsafe(24)


def token_for(settings: Settings, nonce: str) -> str:
    return hmac.new(_key(settings), nonce.encode(), hashlib.sha256).hexdigest()


def verify(settings: Settings, nonce: str | None, token: str | None) -> None:
    """Raise ``CsrfFailed`` unless ``token`` signs the cookie's ``nonce``."""
    if not nonce or not token or not hmac.compare_digest(token_for(settings, nonce), token):
        raise CsrfFailed("This form has expired or did not come from Secretary. Reload the page.")
