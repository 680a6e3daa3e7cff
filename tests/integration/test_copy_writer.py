"""Ingest's batch write (one binary COPY on PostgreSQL) keeps the library's guarantees: the
events read back as written, in order; a repeated (aggregate, version) fails the whole
batch with the library's IntegrityError and stores none of it."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from datetime import UTC, datetime

import pytest
from eventsourcing.persistence import IntegrityError

from domain.disclosure import Disclosure
from domain.provenance import Actor, Provenance
from services.settings import Settings
from services.store.care_app import CareLoop, create_care_app
from services.store.copy_writer import COPY_FROM, write_events
from services.store.event_store_config import eventsourcing_env


@pytest.fixture
def app(base_settings: Settings) -> Iterator[CareLoop]:
    app = create_care_app(eventsourcing_env(base_settings))
    yield app
    app.close()


def events(n: int) -> list[object]:
    out: list[object] = []
    for _ in range(n):
        did = uuid.uuid4()
        provenance = Provenance(actor=Actor("co-1", "coordinator", "riverside-cmhc"),
                                occurred_at=datetime.now(UTC), source_system="careloop-http",
                                message_id=f"read-{did}", correlation_id=f"read-{did}")
        out.extend(Disclosure.record(did, uuid.uuid4(), "care_plan", "care-coordination", None,
                                     "http", provenance).collect_events())
    return out


@pytest.mark.parametrize("size", [COPY_FROM - 1, COPY_FROM, 300])
def test_a_batch_is_stored_in_order_and_reads_back(app: CareLoop, size: int) -> None:
    batch = events(size)
    write_events(app, batch)
    notes = app.recorder.select_notifications(0, 1000)
    assert [n.originator_id for n in notes] == [e.originator_id for e in batch]  # type: ignore[attr-defined]
    assert [n.id for n in notes] == sorted(n.id for n in notes)
    loaded = app.repository.get(batch[7].originator_id)  # type: ignore[attr-defined]
    assert isinstance(loaded, Disclosure) and loaded.purpose == "care-coordination"


def test_a_repeated_event_fails_the_whole_batch(app: CareLoop) -> None:
    first = events(3)
    write_events(app, first)
    with pytest.raises(IntegrityError):
        write_events(app, [*events(COPY_FROM + 10), first[1]])
    assert len(app.recorder.select_notifications(0, 1000)) == 3
