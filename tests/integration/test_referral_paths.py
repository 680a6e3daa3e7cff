"""Every referral state of docs/domain.md is reachable by posting contract messages, on both
stores (the NATS path in front of ``execute`` is the same for every message type)."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from typing import Any

import pytest

from contracts.v1.catalogue import MESSAGE_TYPES
from domain.referral import Referral, ReferralStatus
from services.commands.registry import execute
from services.settings import Settings
from services.store.care_app import CareLoop, create_care_app
from services.store.event_store_config import eventsourcing_env
from tests.helpers import message

PATHS: dict[str, list[str]] = {
    "draft": ["referral.drafted"],
    "requested": ["referral.drafted", "referral.requested"],
    "received": ["referral.made", "referral.received"],
    "accepted": ["referral.made", "referral.accepted"],
    "rejected": ["referral.made", "referral.received", "referral.rejected"],
    "in-progress": ["referral.made", "referral.accepted", "referral.started"],
    "on-hold": ["referral.made", "referral.accepted", "referral.started",
                "referral.put_on_hold"],
    "completed": ["referral.made", "referral.accepted", "referral.interim_update_sent",
                  "referral.completed", "referral.outcome_acknowledged"],
    "failed": ["referral.made", "referral.accepted", "referral.failed"],
    "cancelled": ["referral.made", "referral.accepted", "referral.cancellation_requested",
                  "referral.cancellation_confirmed"],
    "entered-in-error": ["referral.drafted", "referral.entered_in_error"],
}


@pytest.fixture
def app(base_settings: Settings) -> Iterator[CareLoop]:
    care = create_care_app(eventsourcing_env(base_settings))
    for setup in ("client.registered", "consent.recorded"):
        execute(care, MESSAGE_TYPES[setup].model_validate(message(setup)))
    yield care
    care.close()


def post(app: CareLoop, message_type: str, **payload: Any) -> None:
    m = message(message_type, **payload)
    if message_type == "referral.drafted":  # drafted housing referral, like the made one
        m["payload"].update(to_service="housing", to_organisation="harbor-housing")
    outcome = execute(app, MESSAGE_TYPES[message_type].model_validate(m))
    assert outcome.event_ids and not outcome.duplicate


@pytest.mark.parametrize("status", sorted(PATHS))
def test_every_referral_state_is_reachable_by_messages(app: CareLoop, status: str) -> None:
    rid = uuid.uuid4()
    for message_type in PATHS[status]:
        post(app, message_type, referral_id=rid)
    referral = app.repository.get(rid)
    assert isinstance(referral, Referral)
    assert referral.status is ReferralStatus(status)
    if status == "completed":
        assert referral.outcome_acknowledged
