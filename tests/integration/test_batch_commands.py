"""A batch of messages is committed together, yet every message gets exactly the answer it
would have had alone: on both stores, without NATS in front."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from typing import Any

import pytest
from eventsourcing.domain import Aggregate

from contracts.v1.catalogue import MESSAGE_TYPES
from contracts.v1.envelope import Envelope
from domain.errors import DomainError, ReferralNotFound
from domain.referral import Referral, ReferralStatus
from services.commands import registry as inbound_commands
from services.commands.batch import apply_batch
from services.settings import Settings
from services.store.care_app import CareLoop, Outcome, create_care_app
from services.store.event_store_config import eventsourcing_env
from tests.helpers import message


@pytest.fixture
def app(base_settings: Settings) -> Iterator[CareLoop]:
    care = create_care_app(eventsourcing_env(base_settings))
    yield care
    care.close()


def envelope(message_type: str, **payload: Any) -> Envelope:
    return MESSAGE_TYPES[message_type].model_validate(message(message_type, **payload))


def story(client_id: uuid.UUID, referral_id: uuid.UUID) -> list[Envelope]:
    return [
        envelope("client.registered", client_id=client_id),
        envelope("consent.recorded", client_id=client_id),
        envelope("referral.made", client_id=client_id, referral_id=referral_id),
        envelope("referral.accepted", referral_id=referral_id),
    ]


def stored(app: CareLoop) -> int:
    """How many events are stored (PostgreSQL's sequence may skip ids after a rollback)."""
    return len(app.recorder.select_notifications(1, 10_000))


def test_a_referral_made_and_accepted_in_one_batch_is_one_aggregate_committed_once(
    app: CareLoop,
) -> None:
    cid, rid = uuid.uuid4(), uuid.uuid4()
    results = apply_batch(app, story(cid, rid))

    assert all(isinstance(r, Outcome) and not r.duplicate for r in results), results
    referral = app.find(rid, Referral)
    assert referral is not None and referral.status == ReferralStatus.ACCEPTED
    event_ids = [i for r in results if isinstance(r, Outcome) for i in r.event_ids]
    assert len(event_ids) == len(set(event_ids)) >= 4
    # Four ledger entries and the domain events, no more.
    assert stored(app) == 4 + len(event_ids)


def test_one_refused_message_leaves_the_rest_of_its_batch_accepted(app: CareLoop) -> None:
    cid, rid = uuid.uuid4(), uuid.uuid4()
    batch = story(cid, rid)
    batch.insert(2, envelope("referral.completed", referral_id=uuid.uuid4()))
    results = apply_batch(app, batch)

    assert isinstance(results[2], ReferralNotFound)
    assert [isinstance(r, Outcome) for r in results] == [True, True, False, True, True]
    assert app.processed(batch[2].source_system, batch[2].message_id) is None


def test_a_message_repeated_inside_a_batch_is_stored_once_with_the_same_answer(
    app: CareLoop,
) -> None:
    cid, rid = uuid.uuid4(), uuid.uuid4()
    batch = story(cid, rid)
    batch.append(batch[0])
    results = apply_batch(app, batch)

    first, again = results[0], results[-1]
    assert isinstance(first, Outcome) and isinstance(again, Outcome)
    assert again.duplicate and not first.duplicate
    assert again.event_ids == first.event_ids


def test_a_redelivered_message_gets_its_first_receipt_in_a_later_batch(app: CareLoop) -> None:
    cid, rid = uuid.uuid4(), uuid.uuid4()
    update = envelope("referral.interim_update_sent", referral_id=rid)
    first = apply_batch(app, [*story(cid, rid), update])
    head = stored(app)

    # The domain would accept the update again; the ledger's unique id stops the batch,
    # which is redone one message per transaction.
    completed = envelope("referral.completed", referral_id=rid)
    registered_again = story(cid, rid)[0]
    registered_again.message_id = "never-seen"  # refused by the domain: already registered
    again = apply_batch(app, [update, completed, registered_again])

    assert isinstance(again[0], Outcome) and again[0].duplicate
    assert again[0].event_ids == first[-1].event_ids  # type: ignore[union-attr]
    assert isinstance(again[1], Outcome) and not again[1].duplicate
    assert isinstance(again[2], DomainError)
    assert stored(app) == head + 1 + len(again[1].event_ids)


def test_a_refusal_that_touched_a_shared_aggregate_redoes_the_batch_one_by_one(
    app: CareLoop, monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Domain commands check before they record; should a handler ever record and then
    refuse, the events it left on the shared object must not be committed."""
    cid, rid = uuid.uuid4(), uuid.uuid4()
    apply_batch(app, story(cid, rid))
    started = inbound_commands.HANDLERS["referral.started"]

    def start_then_refuse(care: CareLoop, m: Any, p: Any) -> list[Aggregate]:
        started(care, m, p)
        raise ReferralNotFound("refused after recording", field="payload.referral_id")

    monkeypatch.setitem(inbound_commands.HANDLERS, "referral.put_on_hold", start_then_refuse)
    hold = envelope("referral.put_on_hold", referral_id=rid)
    update = envelope("referral.interim_update_sent", referral_id=rid)
    head = stored(app)
    results = apply_batch(app, [hold, update])

    assert isinstance(results[0], DomainError)
    assert isinstance(results[1], Outcome) and len(results[1].event_ids) == 1
    referral = app.find(rid, Referral)
    assert referral is not None and referral.status == ReferralStatus.ACCEPTED
    assert stored(app) == head + 2  # the update and its ledger entry only


def test_an_unexpected_error_fails_only_its_own_message(
    app: CareLoop, monkeypatch: pytest.MonkeyPatch,
) -> None:
    def boom(care: CareLoop, m: Any, p: Any) -> list[Aggregate]:
        raise RuntimeError("a bug in one handler")

    monkeypatch.setitem(inbound_commands.HANDLERS, "client.contact_updated", boom)
    cid = uuid.uuid4()
    batch = [envelope("client.registered", client_id=cid),
             envelope("client.contact_updated", client_id=cid),
             envelope("consent.recorded", client_id=cid)]
    results = apply_batch(app, batch)

    assert isinstance(results[0], Outcome) and isinstance(results[2], Outcome)
    assert isinstance(results[1], RuntimeError)


def test_a_refused_partner_in_the_middle_of_a_batch_changes_nothing_of_its_own(
    app: CareLoop,
) -> None:
    """Authority refusals inside one group commit: the custodian's facts around a hostile
    one are stored, the hostile one is answered with its own code and leaves no trace."""
    from domain.authority import CareTeamChangeRefused
    from domain.client import Client

    cid = uuid.uuid4()
    housing = {"id": "ha-207", "role": "housing-advocate", "organisation": "harbor-housing"}
    hostile = message("care_team.member_added", client_id=cid, member_id="ha-208")
    hostile["actor"] = housing
    batch = [
        envelope("client.registered", client_id=cid),
        envelope("care_team.member_added", client_id=cid),
        MESSAGE_TYPES["care_team.member_added"].model_validate(hostile),
        envelope("care_team.member_added", client_id=cid, member_id="psy-77",
                 role="psychiatrist", organisation="riverside-psych"),
    ]
    results = apply_batch(app, batch)
    assert [type(r) for r in results] == [Outcome, Outcome, CareTeamChangeRefused, Outcome]
    client = app.find(cid, Client)
    assert client is not None and set(client.care_team) == {"ha-207", "psy-77"}
    assert stored(app) == sum(len(r.event_ids) for r in results if isinstance(r, Outcome)) + 3
