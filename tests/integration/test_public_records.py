"""Replays turn stored events into public dicts the fast way only where it gives exactly
what the general way (domain event → ``OutboundEvent``) gives."""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator

import pytest
from eventsourcing.persistence import Notification
from eventsourcing.utils import resolve_topic
from pydantic_core import to_json

from services.audit.disclosure_accounting import Reader, record_read
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


def test_the_fast_way_serialises_to_the_bytes_the_outbound_model_would(app: CareLoop) -> None:
    # The fast way's dict through pydantic_core.to_json gives the same bytes as the general
    # way's ``OutboundEvent.model_dump_json()``, key order included (what the relay sends).
    resolver = ClientResolver(app)
    topics = {n.topic for n in app.recorder.select_notifications(0, 1000)}
    resolver.public._checked = dict.fromkeys(topics, CHECKED)  # the fast way from the start
    clients = ClientResolver(app)
    for note in app.recorder.select_notifications(0, 1000):
        record = record_of(app, note, resolver)
        if record is None:
            continue
        general = to_outbound(app.mapper.to_domain_event(note), note.id, clients)
        assert to_json(record) == general.model_dump_json().encode(), note.topic
    assert resolver.public.fast >= 12 and resolver.public.general == 0


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
