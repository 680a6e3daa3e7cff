"""Break-glass: a clinician opens a restricted record in an emergency, with a stated reason,
for a limited time. Always recorded; auditors see every opening. An auditor's investigation
grant is the same act by an auditor. One aggregate per (client, organisation, role, person):
a grant never carries over to someone of another organisation or role who has the same id."""

from __future__ import annotations

from datetime import datetime, timedelta
from uuid import NAMESPACE_URL, UUID, uuid5

from eventsourcing.domain import Aggregate, event

from domain.errors import DomainError
from domain.provenance import Provenance

BREAK_GLASS_NAMESPACE = uuid5(NAMESPACE_URL, "https://careloop.invalid/break-glass")
MAY_BREAK_GLASS = ("clinical-social-worker", "psychiatrist", "auditor")


class BreakGlassRefused(DomainError):
    """This caller may not open break-glass access to this record."""

    code = "break_glass_refused"


class BreakGlassAccess(Aggregate):
    """All emergency openings of one client's record by one person."""

    @staticmethod
    def id_for(client_id: UUID, user: str, organisation: str, role: str) -> UUID:
        return uuid5(BREAK_GLASS_NAMESPACE, f"{client_id}:{organisation}:{role}:{user}")

    @event("Started")
    def __init__(self, id: UUID, client_id: UUID, user: str,  # id derived: see id_for
                 provenance: Provenance) -> None:
        self.client_id, self.user = client_id, user
        self.open_until: datetime | None = None
        self.reason: str | None = None

    @classmethod
    def start(cls, client_id: UUID, user: str, provenance: Provenance) -> BreakGlassAccess:
        actor = provenance.actor
        return cls(id=cls.id_for(client_id, user, actor.organisation, actor.role),
                   client_id=client_id, user=user,
                   provenance=provenance)

    def open(self, reason: str, minutes: int, provenance: Provenance) -> None:
        """The opener and the time are the provenance's actor and ``occurred_at``."""
        if provenance.actor.role not in MAY_BREAK_GLASS:
            raise BreakGlassRefused(f"role '{provenance.actor.role}' may not break the glass",
                                    field="role")
        if len(reason.strip()) < 10:
            raise BreakGlassRefused("state the emergency in at least a sentence",
                                    field="reason")
        at = provenance.occurred_at
        self._opened(reason=reason, until=at + timedelta(minutes=minutes),
                     provenance=provenance)

    @event("Opened")
    def _opened(self, reason: str, until: datetime, provenance: Provenance) -> None:
        self.open_until, self.reason = until, reason

    def is_open(self, at: datetime) -> bool:
        return self.open_until is not None and at < self.open_until
