"""Reads recorded in bulk are the very events ``Disclosure.record`` makes: the library reads
them back, the accounting lists every one, and a read whose record fails returns nothing."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime

import pytest

from domain.disclosure import BreakGlassReasonRequired, Disclosure
from domain.provenance import Actor, Provenance
from services.api.access_tokens import Caller
from services.api.disclosure_recorder import DisclosureRecorder, Read
from services.audit.disclosure_accounting import accounting
from services.settings import Settings
from services.store.care_app import CareLoop, create_care_app
from services.store.event_store_config import eventsourcing_env
from services.store.read_events import ReadFact, stored_reads

CLIENT = uuid.uuid4()
NURSE = Caller("psy-1", "psychiatrist", "riverside-psych")


@pytest.fixture
def app(base_settings: Settings) -> Iterator[CareLoop]:
    app = create_care_app(eventsourcing_env(base_settings))
    yield app
    app.close()


def test_a_bulk_read_event_is_what_disclosure_record_makes(app: CareLoop) -> None:
    assert app.mapper.cipher is not None  # encrypted at rest, as in production
    fact = ReadFact(uuid.uuid4(), CLIENT, "psy-1", "psychiatrist", "riverside-psych",
                    "care_plan_psychiatrist", "emergency", "patient unconscious in A&E",
                    "http", datetime.now(UTC), "corr-1")
    app.recorder.insert_events(stored_reads(app.mapper, [fact]))

    made = Disclosure.record(
        fact.disclosure_id, fact.client_id, fact.view, fact.purpose, fact.break_glass_reason,
        fact.channel, Provenance(actor=Actor(fact.viewer_id, fact.viewer_role,
                                             fact.viewer_organisation),
                                 occurred_at=fact.read_at, source_system="careloop-http",
                                 message_id=f"read-{fact.disclosure_id}",
                                 correlation_id="corr-1"))
    expected = vars(made.collect_events()[0])
    stored = app.repository.get(fact.disclosure_id)
    assert isinstance(stored, Disclosure)
    (note,) = app.recorder.select_notifications(0, 10)
    got = vars(app.mapper.to_domain_event(note))
    assert note.topic == "domain.disclosure:Disclosure.Recorded"
    assert {k: v for k, v in got.items() if k != "timestamp"} == {
        k: v for k, v in expected.items() if k != "timestamp"}
    assert got["timestamp"] == fact.read_at


async def test_every_concurrent_read_is_in_the_accounting(app: CareLoop) -> None:
    recorder = DisclosureRecorder(app)
    others = uuid.uuid4()
    reads = [Read(CLIENT if i % 3 else others, NURSE, "care_plan_psychiatrist", "treatment",
                  "http") for i in range(300)]
    try:
        await asyncio.gather(*(recorder.record(r) for r in reads))
    finally:
        await recorder.stop()
    assert recorder.recorded == 300
    assert recorder.commits < 300  # reads waiting together shared commits
    listed = [e for e in accounting(app, CLIENT) if e.kind == "read"]
    assert len(listed) == sum(1 for r in reads if r.client_id == CLIENT)
    assert {(e.recipient, e.role, e.organisation, e.what, e.purpose, e.channel)
            for e in listed} == {("psy-1", "psychiatrist", "riverside-psych",
                                  "care_plan_psychiatrist", "treatment", "http")}


async def test_a_read_is_refused_when_it_cannot_be_recorded(app: CareLoop) -> None:
    recorder = DisclosureRecorder(app)

    def broken(events: object) -> None:
        raise OSError("the disk is full")

    app.recorder.insert_events = broken  # type: ignore[method-assign,assignment]
    try:
        with pytest.raises(OSError):
            await recorder.record(Read(CLIENT, NURSE, "care_plan", "treatment", "http"))
    finally:
        await recorder.stop()
    assert recorder.recorded == 0


async def test_an_emergency_read_without_a_reason_is_refused(app: CareLoop) -> None:
    recorder = DisclosureRecorder(app)
    with pytest.raises(BreakGlassReasonRequired):
        await recorder.record(Read(CLIENT, NURSE, "break_glass", "emergency", "http", "  "))
    await recorder.stop()
    assert list(accounting(app, CLIENT)) == []
