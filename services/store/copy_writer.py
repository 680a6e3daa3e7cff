"""Writes a batch of domain events with one binary ``COPY`` on PostgreSQL.

The library's insert passes the batch as an array of composite values to a database
function; psycopg renders that array as text, value by value, and for a batch of a few
hundred events that costs more of ingest's time than anything else (measured with py-spy,
docs/performance.md). ``COPY ... FROM STDIN (FORMAT BINARY)`` sends the same rows as binary
with no per-row statement. Same guarantees as the library's insert: one transaction; the
table's EXCLUSIVE lock first, so notification ids follow commit order (readers tailing the
log never pass over a gap filled later); a NOTIFY on the library's channel, so subscribers
(the relay) wake; a duplicate (aggregate, version) fails the whole batch with the library's
``IntegrityError``, which the batch path handles as before.

SQLite (embedded mode) is in-process and keeps the library's own insert, and so do small
batches (``COPY_FROM``), for which a single round trip matters more than rendering.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from eventsourcing.persistence import InterfaceError, OperationalError, StoredEvent
from eventsourcing.postgres import PostgresApplicationRecorder
from eventsourcing.utils import retry
from psycopg.sql import SQL, Identifier

from services.store.care_app import CareLoop

COPY_FROM = 64
"""Smaller batches keep the library's insert: one round trip (a function call in autocommit)
costs less than the COPY transaction's four when there is little to render."""
COLUMNS = ("originator_id", "originator_version", "topic", "state")
TYPES = ("uuid", "int8", "text", "bytea")


def write_events(app: CareLoop, events: Sequence[Any]) -> None:
    """Store ``events`` (new domain events, in order) in one transaction."""
    if not events:
        return
    stored = [app.mapper.to_stored_event(e) for e in events]
    recorder = app.recorder
    if isinstance(recorder, PostgresApplicationRecorder) and len(stored) >= COPY_FROM:
        copy_events(recorder, stored)
    else:
        recorder.insert_events(stored)


@retry((InterfaceError, OperationalError), max_attempts=10, wait=0.2)
def copy_events(recorder: PostgresApplicationRecorder, stored: Sequence[StoredEvent]) -> None:
    """Retried on a fresh connection when the pooled one is dead, as the library's insert is
    (a retry after a commit whose answer was lost fails on the duplicate, and the batch
    path then finds its ledger entries)."""
    datastore = recorder.datastore
    table = SQL("{}.{}").format(Identifier(datastore.schema),
                                Identifier(recorder.events_table_name))
    copy = SQL("COPY {} ({}) FROM STDIN (FORMAT BINARY)").format(
        table, SQL(", ").join(Identifier(c) for c in COLUMNS))
    prepare = SQL("; ").join([*recorder.lock_table_statements,
                              SQL("NOTIFY {}").format(Identifier(recorder.channel_name))])
    with datastore.get_connection() as conn, conn.transaction(), conn.cursor() as cursor:
        cursor.execute(prepare)  # lock timeout, table lock and NOTIFY in one round trip
        with cursor.copy(copy) as rows:
            rows.set_types(list(TYPES))
            for e in stored:
                rows.write_row((e.originator_id, e.originator_version, e.topic, e.state))
