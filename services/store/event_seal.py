"""Every stored event is sealed with a key the database does not hold.

The seal is an HMAC-SHA256, keyed from ``CARELOOP_CIPHER_KEY``, over the event's
originator id, version, topic and stored state (the ciphertext), kept in front of the state:
``CLS1`` + 32-byte MAC + state. Someone who can write to the database but does not have the
key cannot make a row that passes: a forged row appended after the chain head, a row copied
under another aggregate or version, a state or topic altered in place. The hash chain
refuses to chain a row whose seal does not hold, and ``verify`` reports it (``forged``);
reading such a row raises ``DamagedEvent`` naming the row instead of a library traceback.
Without a cipher key (plain embedded SQLite) events are not sealed; the chain alone then
shows changes to chained rows, but not a forged row appended after the head.
"""

from __future__ import annotations

import hashlib
import hmac
from base64 import b64decode
from typing import Any
from uuid import UUID

from eventsourcing.domain import DomainEventProtocol
from eventsourcing.persistence import Mapper, StoredEvent

MAGIC = b"CLS1"
MAC_SIZE = 32


class DamagedEvent(Exception):
    """A stored event that cannot be trusted or read: which row, and why."""

    def __init__(self, originator_id: Any, version: int, reason: str,
                 position: int | None = None) -> None:
        self.originator_id, self.version, self.reason = originator_id, version, reason
        self.position = position
        where = f"position {position}, " if position is not None else ""
        super().__init__(f"stored event at {where}aggregate {originator_id} version {version} "
                         f"cannot be read or trusted: {reason}")

    def at(self, position: int) -> DamagedEvent:
        return DamagedEvent(self.originator_id, self.version, self.reason, position)


def seal_key(cipher_key: str) -> bytes:
    """A key for seals only, derived from the cipher key (never used to encrypt)."""
    return hmac.new(b64decode(cipher_key), b"careloop event seal v1", hashlib.sha256).digest()


def _mac(key: bytes, originator_id: Any, version: int, topic: str, state: bytes) -> bytes:
    head = f"{originator_id}\x1f{version}\x1f{topic}\x1f".encode()
    return hmac.digest(key, head + state, "sha256")  # one call into OpenSSL, same bytes


def seal(key: bytes, originator_id: Any, version: int, topic: str, state: bytes) -> bytes:
    return MAGIC + _mac(key, originator_id, version, topic, state) + state


def unseal(key: bytes, originator_id: Any, version: int, topic: str, sealed: bytes,
           older: tuple[bytes, ...] = ()) -> bytes:
    """The inner state, or ``DamagedEvent`` if the seal is missing or matches no key (the
    current one, or ``older`` ones kept while a cipher key is rotated)."""
    if not sealed.startswith(MAGIC) or len(sealed) < len(MAGIC) + MAC_SIZE:
        raise DamagedEvent(originator_id, version, "it carries no seal (not written by careloop)")
    mac, state = sealed[len(MAGIC):len(MAGIC) + MAC_SIZE], sealed[len(MAGIC) + MAC_SIZE:]
    if not any(hmac.compare_digest(mac, _mac(k, originator_id, version, topic, state))
               for k in (key, *older)):
        raise DamagedEvent(originator_id, version,
                           "its seal does not match (altered, moved or forged)")
    return state


def seal_holds(key: bytes | None, originator_id: Any, version: int, topic: str,
               state: bytes, older: tuple[bytes, ...] = (), legacy: bool = False) -> bool:
    if key is None or (legacy and not state.startswith(MAGIC)):
        return True
    try:
        unseal(key, originator_id, version, topic, state, older)
    except DamagedEvent:
        return False
    return True


class CheckedMapper(Mapper[UUID]):
    """eventsourcing's mapper, sealing on write when keyed, and answering any stored event
    it cannot read with ``DamagedEvent`` (bad seal, ``Invalid cipher tag``, bad topic)."""

    seal_key: bytes | None = None
    older_keys: tuple[bytes, ...] = ()
    """Seal keys of the cipher's old keys (a rotation in progress): still accepted."""
    legacy_unsealed: bool = False
    """Rows written before sealing (embedded stores that were plaintext) are read as they are."""

    def to_stored_event(self, domain_event: DomainEventProtocol[UUID]) -> StoredEvent:
        stored = super().to_stored_event(domain_event)
        if self.seal_key is None:
            return stored
        return StoredEvent(stored.originator_id, stored.originator_version, stored.topic,
                           seal(self.seal_key, stored.originator_id, stored.originator_version,
                                stored.topic, stored.state))

    def unsealed_state(self, stored_event: StoredEvent) -> bytes:
        """The stored state with its seal checked and taken off (still encrypted), for
        readers that decode the state themselves (``PublicRecords``)."""
        legacy = self.legacy_unsealed and not stored_event.state.startswith(MAGIC)
        if self.seal_key is None or legacy:
            return stored_event.state
        return unseal(self.seal_key, stored_event.originator_id, stored_event.originator_version,
                      stored_event.topic, stored_event.state, self.older_keys)

    def to_domain_event(self, stored_event: StoredEvent) -> DomainEventProtocol[UUID]:
        oid, version = stored_event.originator_id, stored_event.originator_version
        stored_event = StoredEvent(oid, version, stored_event.topic,
                                   self.unsealed_state(stored_event))
        try:
            return super().to_domain_event(stored_event)
        except Exception as e:
            cause = e.__cause__ or e
            raise DamagedEvent(oid, version, f"{type(cause).__name__}: {cause}"[:300]) from e
