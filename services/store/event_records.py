"""Stored events read back as the public event dicts, with the client each one touches.

The relay, the audit timeline, the as-of rebuilds and the projection rebuild all need the
same two answers for a stored event: "which client is this about?" and "what does it look
like as a ``careloop.events`` message?". They are answered here once, so a rebuilt view
is fed exactly what the live projector was fed.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import Any
from uuid import UUID

from eventsourcing.domain import Aggregate, DomainEventProtocol
from eventsourcing.persistence import Notification

from services.relay.outbound_events import is_published
from services.store.care_app import CareLoop
from services.store.event_seal import DamagedEvent
from services.store.public_records import PublicRecords

PAGE = 1000
"""Notifications read per query: memory stays flat however long the history is."""

Record = dict[str, Any]


class ClientResolver:
    """The client an aggregate belongs to (a referral's, a care plan's).

    Creation events name their client, so a reader walking the store in order learns the
    answer for free (``learn``); anything else is looked up once in the store and cached.
    Aggregates that span clients (conferences) answer None: their events name them in data.
    """

    def __init__(self, app: CareLoop, limit: int = 100_000) -> None:
        self.app, self.limit = app, limit
        self._clients: dict[UUID, UUID | None] = {}
        self.public = PublicRecords(app)

    def learn(self, event: DomainEventProtocol[Any]) -> None:
        client_id = getattr(event, "client_id", None)
        if isinstance(client_id, UUID):
            self._remember(event.originator_id, client_id)

    def learn_record(self, record: Record) -> None:
        """The same, from a public dict: what the event itself names as its client."""
        client_id = record["data"].get("client_id")
        if isinstance(client_id, str):
            self._remember(UUID(record["aggregate_id"]), UUID(client_id))

    def __call__(self, aggregate_id: UUID) -> UUID | None:
        if aggregate_id not in self._clients:
            found = self.app.find(aggregate_id, Aggregate)
            client_id = getattr(found, "client_id", None)
            self._remember(aggregate_id, client_id if isinstance(client_id, UUID) else None)
        return self._clients[aggregate_id]

    def _remember(self, aggregate_id: UUID, client_id: UUID | None) -> None:
        if len(self._clients) >= self.limit:
            self._clients.clear()  # bounded memory; forgotten answers are looked up again
        self._clients[aggregate_id] = client_id


def record_of(app: CareLoop, note: Notification, clients: ClientResolver) -> Record | None:
    """The public event dict of a stored domain event (None for internal bookkeeping)."""
    if not is_published(note.topic):
        return None
    try:
        record = clients.public(note, clients)
    except DamagedEvent as e:
        raise e.at(note.id) from e
    clients.learn_record(record)
    return record


def notifications(
    app: CareLoop, after: int = 0, upto: int | None = None, topics: Sequence[str] = (),
    page: int = PAGE,
) -> Iterator[Sequence[Notification]]:
    """The store's notifications after ``after`` (up to ``upto``), one page at a time."""
    position = after
    while True:
        notes = app.recorder.select_notifications(
            position, page, stop=upto, topics=topics, inclusive_of_start=False
        )
        if not notes:
            return
        yield notes
        position = notes[-1].id
        if len(notes) < page:
            return


def records(
    app: CareLoop, after: int = 0, upto: int | None = None, page: int = PAGE,
    clients: ClientResolver | None = None,
) -> Iterator[Record]:
    """Every published event after ``after``, in store order, as its public dict."""
    clients = clients or ClientResolver(app)
    for notes in notifications(app, after, upto, page=page):
        for note in notes:
            record = record_of(app, note, clients)
            if record is not None:
                yield record


def touches(record: Record, client_id: str) -> bool:
    """Whether the event is about the client: as its subject, or named among several."""
    if record.get("client_id") == client_id:
        return True
    return client_id in ((record.get("data") or {}).get("client_ids") or [])
