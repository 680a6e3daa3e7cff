"""Event payloads and view documents encrypted at rest (AES-GCM, ``services.store.key_ring``).

On by default everywhere. PostgreSQL (the production store) refuses to start without
``CARELOOP_CIPHER_KEY`` unless ``CARELOOP_ENCRYPTION=off`` says plaintext on purpose.
Embedded mode makes a key once in its data folder (``cipher-key``, 0600) when none is given.
The cipher is backed by the ``cryptography`` package, in the layout of eventsourcing's own
AES cipher, so careloop carries a single cryptography library.
"""

from __future__ import annotations

import binascii
from base64 import b64decode

from eventsourcing.cryptography import AESCipher

from services.settings import Settings
from services.store.key_ring import LEGACY_PLAINTEXT, OLD_KEYS, KeyRing

CIPHER_TOPIC = "services.store.key_ring:KeyRingCipher"
KEY_FILE = "cipher-key"


class EncryptionNotConfigured(RuntimeError):
    """Refuses a start that would write clinical records in plaintext by accident."""


def new_key() -> str:
    """A fresh 256-bit key, base64-encoded, for ``CARELOOP_CIPHER_KEY``."""
    return AESCipher.create_key(32)


def encryption_enabled(settings: Settings) -> bool:
    return settings.encryption != "off"


def with_embedded_key(settings: Settings) -> Settings:
    """Embedded SQLite without a configured key: the one made (once) in the data folder."""
    if settings.cipher_key or settings.store != "sqlite" or not encryption_enabled(settings):
        return settings
    path = settings.data_dir / KEY_FILE
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        path.touch(mode=0o600)
        path.write_text(new_key())
    return settings.model_copy(update={"cipher_key": path.read_text().strip()})


def key_ring(settings: Settings) -> KeyRing | None:
    """The keys view documents are sealed with (the same as the events'), or None when off."""
    env = cipher_env(settings)
    if not env:
        return None
    return KeyRing(env["CIPHER_KEY"], KeyRing.parse_old(env.get(OLD_KEYS, "")))


def cipher_env(settings: Settings) -> dict[str, str]:
    """The eventsourcing settings that switch the cipher on, or {} when it is off."""
    if not encryption_enabled(settings):
        return {}
    settings = with_embedded_key(settings)
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
    for old in KeyRing.parse_old(settings.cipher_old_keys):
        try:
            KeyRing(old)
        except (binascii.Error, ValueError) as e:
            raise EncryptionNotConfigured(f"CARELOOP_CIPHER_OLD_KEYS: {e}") from e
    return {"CIPHER_TOPIC": CIPHER_TOPIC, "CIPHER_KEY": settings.cipher_key,
            OLD_KEYS: settings.cipher_old_keys,
            # An embedded store from before SQLite was always encrypted still reads.
            LEGACY_PLAINTEXT: "y" if settings.store == "sqlite" else "n"}
