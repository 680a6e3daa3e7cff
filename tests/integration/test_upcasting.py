"""An event stored under an older schema replays into the current model (both stores).

A test-only aggregate is stored with version 1 of its creation event; the class then
evolves (a new ``currency`` field, ``class_version = 2`` with ``upcast_v1_v2``) and is
registered under the old topic, as a real move would be. Replaying the stored v1 event
gives the current model, and new events are written as v2.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from typing import Any

import pytest
from eventsourcing.domain import Aggregate, event
from eventsourcing.utils import _topic_cache, get_topic, register_topic

from services.settings import Settings
from services.store.care_app import create_care_app
from services.store.event_seal import unseal
from services.store.event_store_config import eventsourcing_env


class Pledge(Aggregate):
    """Version 1, as it was when the first events were stored."""

    @event("Made")
    def __init__(self, client_id: uuid.UUID, amount: int) -> None:
        self.client_id, self.amount = client_id, amount


class PledgeNow(Aggregate):
    """The same aggregate today: every pledge has a currency; old ones were dollars."""

    class Made(Aggregate.Created):
        client_id: uuid.UUID
        amount: int
        currency: str
        class_version = 2

        @staticmethod
        def upcast_v1_v2(state: dict[str, Any]) -> None:
            state["currency"] = "USD"

    @event(Made)
    def __init__(self, client_id: uuid.UUID, amount: int, currency: str) -> None:
        self.client_id, self.amount, self.currency = client_id, amount, currency


@pytest.fixture
def old_topics() -> Iterator[tuple[str, str]]:
    """The stored topics of version 1; the process's topic cache is left as it was found."""
    topics = (get_topic(Pledge), get_topic(Pledge.Made))
    yield topics
    for topic in topics:
        _topic_cache.pop(topic, None)


def test_a_stored_v1_event_replays_into_the_evolved_class(
    base_settings: Settings, old_topics: tuple[str, str]
) -> None:
    env = eventsourcing_env(base_settings)
    client = uuid.uuid4()
    before = create_care_app(env)
    old = Pledge(client_id=client, amount=40)
    before.save(old)
    stored = before.recorder.select_events(old.id)[0]
    assert b"currency" not in stored.state and b"class_version" not in stored.state
    before.close()

    # The class evolves. In a new process the old class is gone; here we make this process
    # forget it, then register the stored topic for the new class, as a real move would.
    for topic in old_topics:
        _topic_cache.pop(topic, None)
    register_topic(old_topics[0], PledgeNow)

    after = create_care_app(env)
    try:
        replayed = after.repository.get(old.id)
        assert isinstance(replayed, PledgeNow)
        assert (replayed.client_id, replayed.amount, replayed.currency) == (client, 40, "USD")
        fresh = PledgeNow(client_id=client, amount=15, currency="EUR")
        after.save(fresh)
        state = after.recorder.select_events(fresh.id)[0].state
        if after.mapper.cipher is not None:  # payloads are sealed and encrypted when keyed
            stored = after.recorder.select_events(fresh.id)[0]
            key = after.mapper.seal_key  # type: ignore[attr-defined]
            state = after.mapper.cipher.decrypt(
                unseal(key, stored.originator_id, 1, stored.topic, stored.state))
        assert b'"class_version":2' in state
        assert after.repository.get(fresh.id).currency == "EUR"
    finally:
        after.close()
