"""The event store, SQLite and PostgreSQL alike: atomic, idempotent, replayable."""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator

import pytest

from contracts.v1.catalogue import MESSAGE_TYPES
from contracts.v1.envelope import Envelope
from domain.errors import ClientNotRegistered, InvalidReferralTransition
from domain.referral import Referral, ReferralStatus
from services.commands.registry import execute, provenance_of
from services.settings import Settings
from services.store.care_app import CareLoop, ConcurrentChange, create_care_app
from services.store.event_store_config import eventsourcing_env
from tests.helpers import CLIENT_ID, message


def parsed(message_type: str, **payload: object) -> Envelope:
    return MESSAGE_TYPES[message_type].model_validate(message(message_type, **payload))


@pytest.fixture
def open_app(base_settings: Settings) -> Iterator[Callable[[], CareLoop]]:
    apps: list[CareLoop] = []

    def opener() -> CareLoop:
        apps.append(create_care_app(eventsourcing_env(base_settings)))
        return apps[-1]

    yield opener
    for app in apps:
        app.close()


@pytest.fixture
def app(open_app) -> CareLoop:  # type: ignore[no-untyped-def]
    return open_app()  # type: ignore[no-any-return]


def registered(app: CareLoop) -> None:
    execute(app, parsed("client.registered"))
    execute(app, parsed("consent.recorded"))  # housing referrals need it


def test_message_stores_its_events_and_ledger_entry_in_one_step(app: CareLoop) -> None:
    outcome = execute(app, parsed("client.registered"))
    assert len(outcome.event_ids) == 1 and not outcome.duplicate
    assert app.head_position() == 2  # the ledger entry and the domain event
    assert outcome.last_position == 2


def test_same_message_id_after_a_restart_creates_nothing_new(open_app) -> None:  # type: ignore[no-untyped-def]
    first_app = open_app()
    msg = parsed("client.registered")
    first = execute(first_app, msg)
    first_app.close()
    again = execute(open_app(), msg)
    assert again.duplicate and again.event_ids == first.event_ids


def test_same_message_id_from_another_system_is_a_different_message(app: CareLoop) -> None:
    registered(app)
    rid = uuid.uuid4()
    made = parsed("referral.made", referral_id=rid)
    execute(app, made)
    other = made.model_copy(update={"source_system": "another-ehr",
                                    "payload": made.payload.model_copy(update={"referral_id": uuid.uuid4()})})
    assert not execute(app, other).duplicate


def test_domain_refusal_changes_nothing(app: CareLoop) -> None:
    head = app.head_position()
    with pytest.raises(ClientNotRegistered):
        execute(app, parsed("referral.made", client_id=uuid.uuid4()))
    assert app.head_position() == head


def test_replaying_the_stored_events_rebuilds_the_same_referral(open_app) -> None:  # type: ignore[no-untyped-def]
    app = open_app()
    registered(app)
    rid = uuid.uuid4()
    for step in ["referral.made", "referral.received", "referral.accepted", "referral.completed"]:
        execute(app, parsed(step, referral_id=rid))
    live = app.repository.get(rid)
    replayed = open_app().repository.get(rid)
    assert isinstance(replayed, Referral)
    assert vars(replayed) == vars(live)
    assert replayed.status is ReferralStatus.COMPLETED and replayed.owner == "ha-207"
    assert str(replayed.client_id) == CLIENT_ID


def test_refused_step_on_a_stored_referral_leaves_it_as_it_was(app: CareLoop) -> None:
    registered(app)
    rid = uuid.uuid4()
    execute(app, parsed("referral.made", referral_id=rid))
    with pytest.raises(InvalidReferralTransition):
        execute(app, parsed("referral.completed", referral_id=rid))
    assert app.repository.get(rid).status is ReferralStatus.REQUESTED


def test_a_concurrent_writer_is_reported_as_transient(open_app) -> None:  # type: ignore[no-untyped-def]
    first, second = open_app(), open_app()
    registered(first)
    rid = uuid.uuid4()
    execute(first, parsed("referral.made", referral_id=rid))
    stale = second.repository.get(rid)  # loaded before the other writer moves on
    execute(first, parsed("referral.accepted", referral_id=rid))
    reject = parsed("referral.rejected", referral_id=rid)
    stale.reject("out of area", provenance_of(reject))
    with pytest.raises(ConcurrentChange):
        second.record(provenance_of(reject), reject.message_type, [stale])
    assert first.repository.get(rid).status is ReferralStatus.ACCEPTED
