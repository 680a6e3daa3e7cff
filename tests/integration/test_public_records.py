"""Replays turn stored events into public dicts the fast way only where it gives exactly
what the general way (domain event → ``OutboundEvent``) gives."""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from typing import Any

import pytest
from eventsourcing.persistence import Notification
from eventsourcing.utils import resolve_topic
from pydantic_core import to_json

from services.audit.disclosure_accounting import Reader, record_read
from services.observability import tracing
from services.relay.outbound_events import is_published, to_outbound
from services.settings import Settings
from services.store.care_app import CareLoop, create_care_app
from services.store.event_records import ClientResolver, record_of, records
from services.store.event_seal import CheckedMapper, seal
from services.store.event_store_config import eventsourcing_env
from services.store.public_records import CHECKED, PublicRecords
from tests.audit_support import post

STORY = ("client.registered", "care_team.member_added", "consent.recorded", "referral.made",
         "referral.received", "referral.accepted", "referral.completed",
         "referral.outcome_acknowledged", "need.identified", "goal.set", "task.added",
         "screening.recorded")


@pytest.fixture
def app(base_settings: Settings) -> Iterator[CareLoop]:
    app = create_care_app(eventsourcing_env(base_settings))
    for message_type in STORY:
        post(app, message_type)
    record_read(app, uuid.uuid4(), Reader("aud-7", "auditor", "state-oversight"), "timeline",
                "cli")
    yield app
    app.close()


def test_the_fast_way_equals_the_general_way_for_every_stored_event(app: CareLoop) -> None:
    public = PublicRecords(app)
    clients = ClientResolver(app)
    notes = [n for n in app.recorder.select_notifications(0, 1000) if is_published(n.topic)]
    assert len({n.topic for n in notes}) >= 12
    for note in notes:
        kind = public._kind(note.topic)
        assert kind is not None, note.topic
        assert public._fast(note, kind, clients) == public.general_way(note, clients), note.topic


TRACED = "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"


def _traced(app: CareLoop, note: Notification) -> Notification:
    """The stored event as traced ingest would have stored it: its provenance holding a
    trace context (re-encrypted and re-sealed, as careloop writes it)."""
    mapper, cipher = app.mapper, app.mapper.cipher
    assert isinstance(mapper, CheckedMapper) and cipher is not None
    state = json.loads(cipher.decrypt(mapper.unsealed_state(note)))
    state["provenance"]["_data_"]["trace_context"] = TRACED
    stored = cipher.encrypt(json.dumps(state).encode())
    if mapper.seal_key is not None:
        stored = seal(mapper.seal_key, note.originator_id, note.originator_version, note.topic,
                      stored)
    return Notification(id=note.id, originator_id=note.originator_id,
                        originator_version=note.originator_version, topic=note.topic,
                        state=stored)


def _both(app: CareLoop) -> list[Notification]:
    """Every published stored event of the story, untraced and traced."""
    notes = [n for n in app.recorder.select_notifications(0, 1000) if is_published(n.topic)]
    return notes + [_traced(app, n) for n in notes]


def _relay_headers(record: dict[str, Any], trace: str | None) -> dict[str, str]:
    headers = {"Careloop-Event-Type": record["event_type"]}
    tracing.put_traceparent(headers, trace, record["event_type"])
    return headers


def test_the_fast_way_gives_the_relay_the_bytes_and_trace_header_of_the_general_way(
    app: CareLoop,
) -> None:
    # What the relay sends from the fast way (the dict through pydantic_core.to_json, the
    # trace context kept by PublicRecords) is what the general way would have sent: the
    # bytes of ``OutboundEvent.model_dump_json()``, key order included, and the traceparent
    # from the domain event's provenance. With and without a stored trace context.
    resolver = ClientResolver(app)
    topics = {n.topic for n in app.recorder.select_notifications(0, 1000)}
    resolver.public._checked = dict.fromkeys(topics, CHECKED)  # the fast way from the start
    clients = ClientResolver(app)
    traced = untraced = 0
    for note in _both(app):
        record = record_of(app, note, resolver)
        if record is None:
            continue
        event = app.mapper.to_domain_event(note)
        general = to_outbound(event, note.id, clients)
        assert to_json(record) == general.model_dump_json().encode(), note.topic
        expected = getattr(getattr(event, "provenance", None), "trace_context", None)
        assert resolver.public.trace_context == expected, note.topic
        headers = _relay_headers(record, resolver.public.trace_context)
        assert headers == _relay_headers(general.model_dump(mode="json"), expected), note.topic
        if expected is None:
            untraced += 1
        else:
            assert headers["traceparent"] == TRACED  # tracing off: passed on unchanged
            traced += 1
    assert traced == untraced >= len(STORY)
    assert resolver.public.fast == traced + untraced and resolver.public.general == 0


def test_the_trace_context_is_the_converted_events_on_either_way(
    app: CareLoop,
) -> None:
    # While a topic is still being checked both ways, and when an event goes the general way
    # only, the kept trace context is still the one stored with that very event.
    seen = set()
    public, clients = PublicRecords(app), ClientResolver(app)
    for note in _both(app):
        event = app.mapper.to_domain_event(note)
        expected = getattr(getattr(event, "provenance", None), "trace_context", None)
        public(note, clients)
        assert public.trace_context == expected, note.topic
        public.general_way(note, clients)
        assert public.trace_context == expected, note.topic
        seen.add(expected)
    assert seen == {None, TRACED}


def test_records_are_the_same_whichever_way_after_the_checks(app: CareLoop) -> None:
    general = PublicRecords(app)
    clients = ClientResolver(app)
    expected = [general.general_way(n, clients)
                for n in app.recorder.select_notifications(0, 1000) if is_published(n.topic)]
    resolver = ClientResolver(app)
    topics = {n.topic for n in app.recorder.select_notifications(0, 1000)}
    resolver.public._checked = dict.fromkeys(topics, CHECKED)  # trusted at once
    assert list(records(app, clients=resolver)) == expected
    assert resolver.public.fast == len(expected) and resolver.public.general == 0


def test_an_event_stored_under_an_older_class_version_goes_the_general_way(
    app: CareLoop,
) -> None:
    (note,) = [n for n in app.recorder.select_notifications(0, 1000)
               if n.topic == "domain.client:Client.ConsentRecorded"]
    assert getattr(resolve_topic(note.topic), "class_version", 1) == 2
    cipher = app.mapper.cipher
    assert cipher is not None
    mapper = app.mapper
    assert isinstance(mapper, CheckedMapper)
    state = json.loads(cipher.decrypt(mapper.unsealed_state(note)))
    state["class_version"] = 1  # as a version-1 event was stored
    stored = cipher.encrypt(json.dumps(state).encode())
    if mapper.seal_key is not None:  # careloop seals what it stores
        stored = seal(mapper.seal_key, note.originator_id, note.originator_version, note.topic,
                      stored)
    older = Notification(id=note.id, originator_id=note.originator_id,
                         originator_version=note.originator_version, topic=note.topic,
                         state=stored)
    public, clients = PublicRecords(app), ClientResolver(app)
    assert public(older, clients) == public.general_way(older, clients)
    assert public.fast == 0
