"""Loads every aggregate a batch of messages may touch with one query (PostgreSQL).

Loading aggregate by aggregate costs one round trip each, which dominates a batch. Before a
batch runs, the ids its payloads name (and the per-client aggregates derived from a client
id) are read in one ``originator_id = ANY(...)`` query and reconstructed into the batch's
identity map; ids with no events are remembered as absent. Ids a handler asks for that
were not foreseen still load one by one, so a miss costs speed, never correctness. The
read happens in the batch's own thread just before the batch commits, and an aggregate
changed meanwhile by another writer fails the commit on its version, like any other load.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any
from uuid import UUID

from eventsourcing.application import project_aggregate
from eventsourcing.domain import Aggregate
from eventsourcing.persistence import StoredEvent
from eventsourcing.postgres import PostgresApplicationRecorder
from psycopg.sql import SQL, Identifier

from contracts.v1.envelope import Envelope
from domain.care_plan import CarePlan
from domain.clinical_record import ClinicalRecord
from services.store.care_app import CareLoop


def ids_named_by(messages: Iterable[Envelope]) -> set[UUID]:
    """Every UUID in the payloads, plus the client's care plan and clinical record."""
    ids: set[UUID] = set()
    for message in messages:
        payload: Any = getattr(message, "payload", None)
        for value in vars(payload).values() if payload is not None else ():
            if isinstance(value, UUID):
                ids.add(value)
        client_id = getattr(payload, "client_id", None)
        if isinstance(client_id, UUID):
            ids.update((CarePlan.id_for(client_id), ClinicalRecord.id_for(client_id)))
    return ids


def preload(app: CareLoop, ids: Iterable[UUID], loaded: dict[UUID, Aggregate | None]) -> int:
    """Put the aggregates (or None) for ``ids`` into ``loaded``; returns how many exist."""
    wanted = [i for i in ids if i not in loaded]
    recorder = app.recorder
    if not wanted or not isinstance(recorder, PostgresApplicationRecorder):
        return 0  # SQLite is in-process: one by one is cheap there
    statement = SQL(
        "SELECT originator_id, originator_version, topic, state FROM {}.{} "
        "WHERE originator_id = ANY(%s) ORDER BY originator_id, originator_version"
    ).format(Identifier(recorder.datastore.schema), Identifier(recorder.events_table_name))
    with recorder.datastore.get_connection() as conn, conn.cursor() as cursor:
        cursor.execute(statement, (wanted,), prepare=True)
        rows: Sequence[Any] = cursor.fetchall()
    by_id: dict[UUID, list[Any]] = {}
    for row in rows:
        stored = StoredEvent(originator_id=row["originator_id"],
                             originator_version=row["originator_version"],
                             topic=row["topic"], state=bytes(row["state"]))
        by_id.setdefault(row["originator_id"], []).append(app.mapper.to_domain_event(stored))
    for aggregate_id in wanted:
        events = by_id.get(aggregate_id)
        loaded[aggregate_id] = project_aggregate(None, events) if events else None
    return len(by_id)
