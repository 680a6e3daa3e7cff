"""A refused attempt to read: who tried (as far as we know), what, when, and why it failed.

Refusals are facts for auditors, as reads are: a token that does not verify (401), a role
asking outside its rights (403), a record outside the caller's scope (answered like a record
that does not exist). One aggregate per attempt, created and never changed. The caller of a
401 is unknown: the actor is then ``anonymous``, never what the bad token claimed.
"""

from __future__ import annotations

from uuid import UUID

from eventsourcing.domain import Aggregate, event

from domain.provenance import Provenance

ANONYMOUS = "anonymous"
REASONS = ("unauthenticated", "role_not_permitted", "out_of_scope", "not_a_treating_provider",
           "no_open_access")


class AccessRefusal(Aggregate):
    @event("Recorded")
    def __init__(self, id: UUID, client_id: UUID | None, what: str, status: int,
                 reason: str, channel: str, provenance: Provenance) -> None:
        self.client_id, self.what, self.status = client_id, what, status
        self.reason, self.channel = reason, channel

    @classmethod
    def record(cls, refusal_id: UUID, client_id: UUID | None, what: str, status: int,
               reason: str, channel: str, provenance: Provenance) -> AccessRefusal:
        """The attempted reader is the provenance's actor (``anonymous`` for a 401)."""
        if reason not in REASONS:
            raise ValueError(f"unknown refusal reason {reason!r}")
        return cls(id=refusal_id, client_id=client_id, what=what, status=status, reason=reason,
                   channel=channel, provenance=provenance)
