"""Event payloads encrypted at rest: eventsourcing's AES-GCM cipher, the key from the environment.

On by default for PostgreSQL (the production store): careloop refuses to start there without
``CARELOOP_CIPHER_KEY`` unless ``CARELOOP_ENCRYPTION=off`` says plaintext on purpose.
Embedded SQLite encrypts when a key is given. The cipher is the one backed by the
``cryptography`` package (same AES-GCM layout as ``eventsourcing.cipher``'s pycryptodome one),
so careloop carries a single cryptography library.
"""

from __future__ import annotations

import binascii
from base64 import b64decode

from eventsourcing.cryptography import AESCipher

from services.settings import Settings

CIPHER_TOPIC = "eventsourcing.cryptography:AESCipher"


class EncryptionNotConfigured(RuntimeError):
    """Refuses a start that would write clinical records in plaintext by accident."""


def new_key() -> str:
    """A fresh 256-bit key, base64-encoded, for ``CARELOOP_CIPHER_KEY``."""
    return AESCipher.create_key(32)


def encryption_enabled(settings: Settings) -> bool:
    if settings.encryption == "off":
        return False
    if settings.encryption == "on" or settings.store == "postgres":
        return True
    return bool(settings.cipher_key)


def cipher_env(settings: Settings) -> dict[str, str]:
    """The eventsourcing settings that switch the cipher on, or {} when it is off."""
    if not encryption_enabled(settings):
        return {}
    if not settings.cipher_key:
        raise EncryptionNotConfigured(
            f"the {settings.store} store encrypts event payloads at rest: set CARELOOP_CIPHER_KEY "
            "(make one with `careloop keygen`), or CARELOOP_ENCRYPTION=off to store plaintext"
        )
    try:
        size = len(b64decode(settings.cipher_key, validate=True))
    except (binascii.Error, ValueError) as e:
        raise EncryptionNotConfigured("CARELOOP_CIPHER_KEY is not valid base64") from e
    if size not in AESCipher.KEY_SIZES:
        raise EncryptionNotConfigured(
            f"CARELOOP_CIPHER_KEY decodes to {size} bytes; AES needs 16, 24 or 32"
        )
    return {"CIPHER_TOPIC": CIPHER_TOPIC, "CIPHER_KEY": settings.cipher_key}
