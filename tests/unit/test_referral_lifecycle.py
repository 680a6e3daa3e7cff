"""Given/when/then for every referral step and refusal (domain only, no infrastructure)."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from datetime import UTC, date, datetime

import pytest

from domain.errors import (
    InvalidReferralTransition,
    MissingReason,
    NotReferralParty,
    OutcomeAlreadyAcknowledged,
)
from domain.provenance import Actor, Provenance
from domain.referral import (
    CancellationRule,
    ConsentRequired,
    DeadlineNotMissed,
    Referral,
    ReferralStatus,
)

S = ReferralStatus


def by(org: str, role: str = "clinical-social-worker") -> Provenance:
    return Provenance(
        actor=Actor(id=f"{org}-person", role=role, organisation=org),
        occurred_at=datetime(2026, 11, 20, 9, 0, tzinfo=UTC),
        source_system=f"{org}-system", message_id=str(uuid.uuid4()), correlation_id="c",
    )


REFERRER, RECIPIENT, STRANGER = by("riverside"), by("harbor", "housing-advocate"), by("elsewhere")
SYSTEM = by("careloop", "system")


class ConsentingClient:
    def __init__(self, permits: bool = True) -> None:
        self.id, self._permits = uuid.uuid4(), permits

    def permits(self, role: str, organisation: str, purpose: str, category: str, on: date) -> bool:
        return self._permits


def new_referral(draft: bool = False) -> Referral:
    return Referral.make(uuid.uuid4(), uuid.uuid4(), "housing", "harbor", "needs housing",
                         "routine", REFERRER, ConsentingClient(), draft=draft)


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
    ("cancel", REFERRER, {S.REQUESTED, S.RECEIVED}, S.CANCELLED),
    ("cancel", RECIPIENT, {S.ACCEPTED, S.IN_PROGRESS, S.ON_HOLD}, S.CANCELLED),
    ("entered_in_error", REFERRER,
     {S.REQUESTED, S.RECEIVED, S.ACCEPTED, S.IN_PROGRESS, S.ON_HOLD}, S.ENTERED_IN_ERROR),
]
CASES = [(step, who, start, start in ok, end) for step, who, ok, end in ALLOWED for start in PATHS
         if not (step == "cancel" and start not in ok and any(
             start in ok2 for s2, _, ok2, _ in ALLOWED if s2 == "cancel"))]


@pytest.mark.parametrize(("step", "who", "start", "allowed", "end"), CASES,
                         ids=[f"{c[0]}-by-{c[1].actor.organisation}-from-{c[2].value}"
                              for c in CASES])
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


def test_referrer_cannot_cancel_an_accepted_referral_in_one_step() -> None:
    with pytest.raises(NotReferralParty):
        referral_in(S.ACCEPTED).cancel("changed my mind", REFERRER)
    with pytest.raises(NotReferralParty):
        referral_in(S.ACCEPTED).cancel("meddling", STRANGER)


@pytest.mark.parametrize("late", [S.ACCEPTED, S.IN_PROGRESS, S.ON_HOLD])
def test_accepted_referral_is_cancelled_in_two_phases(late: ReferralStatus) -> None:
    referral = referral_in(late)
    referral.request_cancellation("client moved away", REFERRER)
    assert referral.cancellation_pending and referral.status is late
    referral.confirm_cancellation(RECIPIENT)
    assert referral.status is S.CANCELLED and not referral.cancellation_pending


def test_recipient_may_decline_a_cancellation_request_and_carry_on() -> None:
    referral = referral_in(S.IN_PROGRESS)
    referral.request_cancellation("client moved away", REFERRER)
    referral.decline_cancellation("tenancy already signed", RECIPIENT)
    assert referral.status is S.IN_PROGRESS and not referral.cancellation_pending
    referral.complete("got-help", "signed", RECIPIENT)


def test_cancellation_cannot_be_confirmed_when_nobody_asked() -> None:
    with pytest.raises(CancellationRule):
        referral_in(S.ACCEPTED).confirm_cancellation(RECIPIENT)


def test_cancellation_cannot_be_requested_twice_or_before_acceptance() -> None:
    referral = referral_in(S.ACCEPTED)
    referral.request_cancellation("moved", REFERRER)
    with pytest.raises(CancellationRule):
        referral.request_cancellation("moved", REFERRER)
    with pytest.raises(InvalidReferralTransition):
        new_referral().request_cancellation("too early: just cancel", REFERRER)


def test_only_the_recipient_confirms_a_cancellation() -> None:
    referral = referral_in(S.ACCEPTED)
    referral.request_cancellation("moved", REFERRER)
    with pytest.raises(NotReferralParty):
        referral.confirm_cancellation(REFERRER)


def test_drafted_referral_is_requested_by_the_referrer_with_deadlines() -> None:
    referral = new_referral(draft=True)
    assert referral.status is S.DRAFT and referral.response_due is None
    with pytest.raises(NotReferralParty):
        referral.request(ConsentingClient(), RECIPIENT)
    referral.request(ConsentingClient(), REFERRER)
    assert referral.status is S.REQUESTED
    # 2026-11-20 is a Friday: 2 business days is Tuesday, 14 is the Wednesday after next
    assert referral.response_due == date(2026, 11, 24)
    assert referral.response_deadline == date(2026, 12, 10)


@pytest.mark.parametrize("draft", [False, True])
def test_referral_to_housing_without_consent_is_refused(draft: bool) -> None:
    refusing = ConsentingClient(permits=False)
    if draft:
        referral = new_referral(draft=True)
        with pytest.raises(ConsentRequired) as refused:
            referral.request(refusing, REFERRER)
        assert referral.status is S.DRAFT
    else:
        with pytest.raises(ConsentRequired) as refused:
            Referral.make(uuid.uuid4(), uuid.uuid4(), "benefits", "benefits-org", "appeal",
                          "routine", REFERRER, refusing)
    assert refused.value.field == "payload.to_organisation"


def test_referral_to_psychiatry_needs_no_extra_consent() -> None:
    referral = Referral.make(uuid.uuid4(), uuid.uuid4(), "psychiatry", "riverside-psych",
                             "medication review", "routine", REFERRER,
                             ConsentingClient(permits=False))
    assert referral.status is S.REQUESTED


@pytest.mark.parametrize("status", [S.ACCEPTED, S.IN_PROGRESS, S.ON_HOLD])
def test_recipient_sends_interim_updates_without_changing_state(status: ReferralStatus) -> None:
    referral = referral_in(status)
    referral.send_interim_update("application lodged, awaiting panel", RECIPIENT)
    assert referral.status is status


def test_interim_update_needs_an_open_accepted_referral() -> None:
    with pytest.raises(InvalidReferralTransition):
        new_referral().send_interim_update("not yet", RECIPIENT)


def test_missed_response_deadlines_are_recorded_once_and_only_when_missed() -> None:
    referral = new_referral()  # requested on Friday 2026-11-20: due 11-24, deadline 12-10
    with pytest.raises(DeadlineNotMissed):
        referral.record_missed_deadline("response-due", date(2026, 11, 24), SYSTEM)
    referral.record_missed_deadline("response-due", date(2026, 11, 25), SYSTEM)
    assert referral.missed_deadlines == ["response-due"] and referral.status is S.REQUESTED
    with pytest.raises(DeadlineNotMissed):
        referral.record_missed_deadline("response-due", date(2026, 11, 26), SYSTEM)
    referral.receive(RECIPIENT)  # acknowledged, but still no decision
    referral.record_missed_deadline("response-deadline", date(2026, 12, 11), SYSTEM)
    assert referral.missed_deadlines == ["response-due", "response-deadline"]


def test_a_decided_referral_misses_no_deadline() -> None:
    referral = referral_in(S.ACCEPTED)
    with pytest.raises(DeadlineNotMissed):
        referral.record_missed_deadline("response-deadline", date(2027, 6, 1), SYSTEM)


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
