"""Encryption keys at rest, with rotation: the current key encrypts, every key of the ring
decrypts (AES-GCM authenticates, so the right key is the one whose tag checks).

Rotating: make a new key (``careloop keygen``), make it CARELOOP_CIPHER_KEY and move the
old one into CARELOOP_CIPHER_OLD_KEYS. New events and every view document written from
then on use the new key; ``careloop rekey-views`` re-seals the stored view documents at
once. Stored events keep the key they were written with: they are never rewritten (the
hash chain covers their stored bytes), so an old key stays in the ring for as long as
events written under it must be readable.
"""

from __future__ import annotations

import json
import os
from base64 import b64decode

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from eventsourcing.persistence import Cipher
from eventsourcing.utils import Environment

NONCE, TAG = 12, 16
OLD_KEYS = "CIPHER_OLD_KEYS"
LEGACY_PLAINTEXT = "CIPHER_READ_LEGACY_PLAINTEXT"
"""Embedded stores written before careloop encrypted them: their rows read as they are."""


def _key(encoded: str) -> bytes:
    key = b64decode(encoded.encode(), validate=True)
    if len(key) not in (16, 24, 32):
        raise ValueError(f"an AES key is 16, 24 or 32 bytes, not {len(key)}")
    return key


class KeyRing:
    def __init__(self, current: str, old: list[str] | None = None) -> None:
        self.current = AESGCM(_key(current))
        self.all = [self.current, *(AESGCM(_key(k)) for k in old or [] if k)]

    @classmethod
    def parse_old(cls, old_keys: str) -> list[str]:
        return [k.strip() for k in old_keys.split(",") if k.strip()]

    def encrypt(self, plaintext: bytes) -> bytes:
        """nonce, tag, ciphertext: the layout of eventsourcing's AESCipher, so events stored
        before the ring existed read back unchanged."""
        nonce = os.urandom(NONCE)
        sealed = self.current.encrypt(nonce, plaintext, None)
        return nonce + sealed[-TAG:] + sealed[:-TAG]

    def decrypt(self, ciphertext: bytes) -> bytes:
        nonce, tag, body = ciphertext[:NONCE], ciphertext[NONCE:NONCE + TAG], ciphertext[NONCE + TAG:]
        if len(nonce) != NONCE or len(tag) != TAG:
            raise ValueError("damaged ciphertext")
        for key in self.all:
            try:
                return key.decrypt(nonce, body + tag, None)
            except InvalidTag:
                continue
        raise ValueError("no key of the ring decrypts this (wrong key, or tampered)")


class KeyRingCipher(Cipher):
    """eventsourcing's cipher strategy (CIPHER_TOPIC) over the key ring."""

    def __init__(self, environment: Environment) -> None:
        current = environment.get("CIPHER_KEY")
        if not current:
            raise OSError("'CIPHER_KEY' not in env")
        self.ring = KeyRing(current, KeyRing.parse_old(environment.get(OLD_KEYS) or ""))
        self.legacy = environment.get(LEGACY_PLAINTEXT) == "y"

    def encrypt(self, plaintext: bytes) -> bytes:
        return self.ring.encrypt(plaintext)

    def decrypt(self, ciphertext: bytes) -> bytes:
        try:
            return self.ring.decrypt(ciphertext)
        except ValueError:
            if self.legacy and _is_json_object(ciphertext):
                return ciphertext  # stored before encryption was on; never written again
            raise


def _is_json_object(raw: bytes) -> bool:
    if not raw.startswith(b"{"):
        return False
    try:
        return isinstance(json.loads(raw), dict)
    except ValueError:
        return False
