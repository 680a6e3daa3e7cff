"""A client's history for auditors: every stored event that touches them, in store order.

Read straight from the event store (not from any view), across every aggregate: the client
itself, referrals, the care plan, the clinical record, conferences that named them, and the
recorded reads of their record. Each entry keeps the actor, their role and organisation,
the business time (``occurred_at``) and the recorded time (``recorded_at``).
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from uuid import UUID

from services.store.care_app import CareLoop
from services.store.event_records import Record, records, touches


@dataclass(frozen=True)
class TimelineFilter:
    since: datetime | None = None
    """Recorded at or after (the store's clock: a sender cannot backdate it)."""
    until: datetime | None = None
    """Recorded before."""
    aggregate: str | None = None
    """An aggregate type (``referral``) or one aggregate's id."""
    actor: str | None = None
    """An actor's id."""

    def admits(self, record: Record) -> bool:
        recorded = datetime.fromisoformat(record["recorded_at"])
        if self.since is not None and recorded < self.since:
            return False
        if self.until is not None and recorded >= self.until:
            return False
        if self.aggregate and self.aggregate not in (record["aggregate_type"],
                                                     record["aggregate_id"]):
            return False
        return not (self.actor and record["actor"]["id"] != self.actor)


def timeline(app: CareLoop, client_id: UUID, where: TimelineFilter | None = None) -> Iterator[Record]:
    """The client's events, oldest first, as public event dicts (one page in memory)."""
    where = where or TimelineFilter()
    wanted = str(client_id)
    for record in records(app):
        if touches(record, wanted) and where.admits(record):
            yield record
