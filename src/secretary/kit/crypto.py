"""Encryption of secrets at rest with MultiFernet: the first key encrypts, all keys decrypt."""

from __future__ import annotations

from collections.abc import Sequence

from cryptography.fernet import Fernet, InvalidToken, MultiFernet

from secretary.errors import ConfigurationError


class TokenCipher:
    def __init__(self, keys: Sequence[str]):
        if not keys:
            raise ConfigurationError("at least one encryption key is required")
        try:
            self._fernet = MultiFernet([Fernet(k.encode()) for k in keys])
        except ValueError as exc:
            raise ConfigurationError(
                "SECRETARY_ENCRYPTION_KEYS holds an invalid Fernet key "
                "(generate one with `secretary keys generate`)"
            ) from exc

    def encrypt(self, plaintext: str) -> bytes:
        return self._fernet.encrypt(plaintext.encode())

    def decrypt(self, ciphertext: bytes) -> str:
        try:
            return self._fernet.decrypt(ciphertext).decode()
        except InvalidToken as exc:
            raise ConfigurationError(
                "a stored token cannot be decrypted with the configured keys "
                "(was a key removed before `secretary keys rotate`?)"
            ) from exc

    def rotate(self, ciphertext: bytes) -> bytes:
        """Re-encrypt under the newest key."""
        return self._fernet.rotate(ciphertext)


def generate_key() -> str:
    return Fernet.generate_key().decode()
