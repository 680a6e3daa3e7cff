"""Given/when/then for every referral step and refusal (domain only, no infrastructure)."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from datetime import UTC, datetime

import pytest

from domain.errors import (
    InvalidReferralTransition,
    MissingReason,
    NotReferralParty,
    OutcomeAlreadyAcknowledged,
)
from domain.provenance import Actor, Provenance
from domain.referral import Referral, ReferralStatus

S = ReferralStatus


def by(org: str, role: str = "clinical-social-worker") -> Provenance:
    return Provenance(
        actor=Actor(id=f"{org}-person", role=role, organisation=org),
        occurred_at=datetime(2026, 11, 20, 9, 0, tzinfo=UTC),
        source_system=f"{org}-system", message_id=str(uuid.uuid4()), correlation_id="c",
    )


REFERRER, RECIPIENT, STRANGER = by("riverside"), by("harbor", "housing-advocate"), by("elsewhere")


def new_referral() -> Referral:
    return Referral.make(uuid.uuid4(), uuid.uuid4(), "housing", "harbor", "needs housing",
                         "routine", REFERRER)


STEPS: dict[str, Callable[[Referral, Provenance], None]] = {
    "receive": lambda r, p: r.receive(p),
    "accept": lambda r, p: r.accept("owner-1", p),
    "reject": lambda r, p: r.reject("out of area", p),
    "start": lambda r, p: r.start(p),
    "put_on_hold": lambda r, p: r.put_on_hold("waiting for documents", p),
    "complete": lambda r, p: r.complete("got-help", "done", p),
    "fail": lambda r, p: r.fail("could not reach", p),
    "cancel": lambda r, p: r.cancel("moved away", p),
    "entered_in_error": lambda r, p: r.mark_entered_in_error("wrong client", p),
    "acknowledge": lambda r, p: r.acknowledge_outcome("seen", p),
}

PATHS: dict[ReferralStatus, list[tuple[str, Provenance]]] = {
    S.REQUESTED: [],
    S.RECEIVED: [("receive", RECIPIENT)],
    S.ACCEPTED: [("accept", RECIPIENT)],
    S.IN_PROGRESS: [("accept", RECIPIENT), ("start", RECIPIENT)],
    S.ON_HOLD: [("accept", RECIPIENT), ("put_on_hold", RECIPIENT)],
    S.REJECTED: [("reject", RECIPIENT)],
    S.COMPLETED: [("accept", RECIPIENT), ("complete", RECIPIENT)],
    S.FAILED: [("accept", RECIPIENT), ("fail", RECIPIENT)],
    S.CANCELLED: [("cancel", REFERRER)],
    S.ENTERED_IN_ERROR: [("entered_in_error", REFERRER)],
}


def referral_in(status: ReferralStatus) -> Referral:
    referral = new_referral()
    for step, who in PATHS[status]:
        STEPS[step](referral, who)
    assert referral.status is status
    return referral


# (step, who, from-states where it is allowed, resulting state)
ALLOWED = [
    ("receive", RECIPIENT, {S.REQUESTED}, S.RECEIVED),
    ("accept", RECIPIENT, {S.REQUESTED, S.RECEIVED}, S.ACCEPTED),
    ("reject", RECIPIENT, {S.REQUESTED, S.RECEIVED}, S.REJECTED),
    ("start", RECIPIENT, {S.ACCEPTED, S.ON_HOLD}, S.IN_PROGRESS),
    ("put_on_hold", RECIPIENT, {S.ACCEPTED, S.IN_PROGRESS}, S.ON_HOLD),
    ("complete", RECIPIENT, {S.ACCEPTED, S.IN_PROGRESS, S.ON_HOLD}, S.COMPLETED),
    ("fail", RECIPIENT, {S.ACCEPTED, S.IN_PROGRESS, S.ON_HOLD}, S.FAILED),
    ("cancel", REFERRER, {S.REQUESTED, S.RECEIVED, S.ACCEPTED, S.IN_PROGRESS, S.ON_HOLD},
     S.CANCELLED),
    ("entered_in_error", REFERRER,
     {S.REQUESTED, S.RECEIVED, S.ACCEPTED, S.IN_PROGRESS, S.ON_HOLD}, S.ENTERED_IN_ERROR),
]
CASES = [(step, who, start, start in ok, end) for step, who, ok, end in ALLOWED for start in PATHS]


@pytest.mark.parametrize(("step", "who", "start", "allowed", "end"), CASES,
                         ids=[f"{c[0]}-from-{c[2].value}" for c in CASES])
def test_each_step_is_allowed_exactly_from_its_states(step, who, start, allowed, end) -> None:  # type: ignore[no-untyped-def]
    referral = referral_in(start)
    version = referral.version
    if allowed:
        STEPS[step](referral, who)
        assert referral.status is end
        assert referral.version == version + 1
    else:
        with pytest.raises(InvalidReferralTransition) as refused:
            STEPS[step](referral, who)
        assert refused.value.status == start.value
        assert referral.status is start and referral.version == version


def test_made_referral_is_requested_and_remembers_both_sides() -> None:
    referral = new_referral()
    assert referral.status is S.REQUESTED
    assert (referral.from_organisation, referral.to_organisation) == ("riverside", "harbor")


def test_referral_cannot_be_accepted_by_the_referrer() -> None:
    referral = new_referral()
    with pytest.raises(NotReferralParty) as refused:
        referral.accept("owner", REFERRER)
    assert refused.value.field == "actor.organisation"


def test_referral_cannot_be_cancelled_by_the_recipient_before_acceptance() -> None:
    with pytest.raises(NotReferralParty):
        new_referral().cancel("not ours", RECIPIENT)


def test_either_side_may_cancel_an_accepted_referral_but_not_a_stranger() -> None:
    referral_in(S.ACCEPTED).cancel("client moved", RECIPIENT)
    with pytest.raises(NotReferralParty):
        referral_in(S.ACCEPTED).cancel("meddling", STRANGER)


def test_rejection_needs_a_reason() -> None:
    with pytest.raises(MissingReason) as refused:
        new_referral().reject("  ", RECIPIENT)
    assert refused.value.field == "payload.reason"


def test_completion_needs_a_known_outcome_code() -> None:
    with pytest.raises(MissingReason) as refused:
        referral_in(S.ACCEPTED).complete("all-good", "", RECIPIENT)
    assert refused.value.field == "payload.outcome"


def test_acceptance_names_an_owner() -> None:
    with pytest.raises(MissingReason):
        new_referral().accept(" ", RECIPIENT)


@pytest.mark.parametrize("terminal", [S.COMPLETED, S.FAILED, S.REJECTED, S.CANCELLED])
def test_referrer_closes_the_loop_once_after_a_terminal_state(terminal: ReferralStatus) -> None:
    referral = referral_in(terminal)
    referral.acknowledge_outcome("read", REFERRER)
    assert referral.outcome_acknowledged
    with pytest.raises(OutcomeAlreadyAcknowledged):
        referral.acknowledge_outcome("again", REFERRER)


@pytest.mark.parametrize("open_state", [S.REQUESTED, S.ACCEPTED, S.IN_PROGRESS])
def test_outcome_cannot_be_acknowledged_before_the_referral_ends(open_state: ReferralStatus) -> None:
    with pytest.raises(InvalidReferralTransition):
        referral_in(open_state).acknowledge_outcome("too early", REFERRER)


def test_only_the_referrer_acknowledges_the_outcome() -> None:
    with pytest.raises(NotReferralParty):
        referral_in(S.COMPLETED).acknowledge_outcome("not mine", RECIPIENT)


@pytest.mark.parametrize("terminal", [S.REJECTED, S.COMPLETED, S.FAILED, S.CANCELLED,
                                      S.ENTERED_IN_ERROR])
def test_terminal_referrals_never_reopen(terminal: ReferralStatus) -> None:
    for step, who in [("accept", RECIPIENT), ("start", RECIPIENT), ("receive", RECIPIENT)]:
        with pytest.raises(InvalidReferralTransition):
            STEPS[step](referral_in(terminal), who)


def test_events_record_actor_and_business_time() -> None:
    referral = referral_in(S.ACCEPTED)
    accepted = referral.collect_events()[-1]
    assert accepted.provenance.actor.organisation == "harbor"  # type: ignore[attr-defined]
    assert accepted.provenance.occurred_at == datetime(2026, 11, 20, 9, 0, tzinfo=UTC)  # type: ignore[attr-defined]
