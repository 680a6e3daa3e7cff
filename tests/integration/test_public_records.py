"""Replays turn stored events into public dicts the fast way only where it gives exactly
what the general way (domain event → ``OutboundEvent``) gives."""

from __future__ import annotations

import uuid
from collections.abc import Iterator

import pytest
from eventsourcing.domain import Aggregate
from eventsourcing.utils import get_topic

from services.audit.disclosure_accounting import Reader, record_read
from services.relay.outbound_events import is_published
from services.settings import Settings
from services.store.care_app import CareLoop, create_care_app
from services.store.event_records import ClientResolver, records
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
        assert kind is not None, note.topic  # none of today's events needs upcasting
        assert public._fast(note, kind, clients) == public.general_way(note, clients), note.topic


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


class Evolving(Aggregate):
    class Created(Aggregate.Created):
        class_version = 2


def test_an_event_that_needs_upcasting_goes_the_general_way(app: CareLoop) -> None:
    assert PublicRecords(app)._kind(get_topic(Evolving.Created)) is None
