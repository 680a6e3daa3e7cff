"""Property tests: random command sequences never leave an aggregate outside its state
machine, refusals change nothing, and replaying the events rebuilds the same aggregate."""

from __future__ import annotations

import copy
import uuid
from datetime import date
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from domain.care_plan import GOAL_STATUSES, CarePlan
from domain.errors import DomainError
from domain.referral import Referral, ReferralStatus
from tests.unit.domain_fixtures import by

REFERRER, RECIPIENT, STRANGER = by("riverside"), by("harbor", "housing-advocate"), by("other")
SYSTEM = by("careloop", "system")
ACTORS = st.sampled_from([REFERRER, RECIPIENT, STRANGER])


class Consenting:
    id = uuid.uuid4()

    def permits(self, *_: Any) -> bool:
        return True


REFERRAL_COMMANDS = [
    ("receive", lambda r, p: r.receive(p)),
    ("request", lambda r, p: r.request(Consenting(), p)),
    ("accept", lambda r, p: r.accept("owner", p)),
    ("reject", lambda r, p: r.reject("full", p)),
    ("start", lambda r, p: r.start(p)),
    ("hold", lambda r, p: r.put_on_hold("waiting", p)),
    ("interim", lambda r, p: r.send_interim_update("news", p)),
    ("complete", lambda r, p: r.complete("got-help", "", p)),
    ("fail", lambda r, p: r.fail("no contact", p)),
    ("cancel", lambda r, p: r.cancel("moved", p)),
    ("ask-cancel", lambda r, p: r.request_cancellation("moved", p)),
    ("confirm-cancel", lambda r, p: r.confirm_cancellation(p)),
    ("decline-cancel", lambda r, p: r.decline_cancellation("busy", p)),
    ("error", lambda r, p: r.mark_entered_in_error("oops", p)),
    ("ack", lambda r, p: r.acknowledge_outcome("seen", p)),
    ("deadline", lambda r, p: r.record_missed_deadline("response-due", date(2027, 1, 1), p)),
]


def replayed(events: list[Any]) -> Any:
    rebuilt = None
    for e in events:
        rebuilt = e.mutate(rebuilt)
    return rebuilt


def comparable(aggregate: Any) -> dict[str, Any]:
    return {k: v for k, v in vars(aggregate).items() if k != "_pending_events"}


@settings(max_examples=200, deadline=None)
@given(draft=st.booleans(),
       steps=st.lists(st.tuples(st.sampled_from(REFERRAL_COMMANDS), ACTORS), max_size=25))
def test_referral_never_leaves_its_machine_and_replays_identically(draft: bool, steps: list) -> None:  # type: ignore[type-arg]
    referral = Referral.make(uuid.uuid4(), uuid.uuid4(), "housing", "harbor", "needs a home",
                             "routine", REFERRER, Consenting(), draft=draft)
    history = list(referral.collect_events())
    terminal_seen = False
    for (name, command), actor in steps:
        before = copy.deepcopy(comparable(referral))
        try:
            command(referral, SYSTEM if name == "deadline" else actor)
        except DomainError:
            assert comparable(referral) == before  # a refusal changes nothing
            continue
        history.extend(referral.collect_events())
        assert referral.status in set(ReferralStatus)
        if terminal_seen:  # terminal referrals never reopen
            assert referral.is_terminal
        terminal_seen = referral.is_terminal
        assert not (referral.outcome_acknowledged and not referral.is_terminal)
        assert not (referral.cancellation_pending and referral.is_terminal)
    assert comparable(replayed(history)) == comparable(referral)


GOAL_TARGETS = st.sampled_from(GOAL_STATUSES)
ACHIEVEMENT = st.one_of(st.none(), st.sampled_from(["achieved", "improving", "not-achieved"]))


@settings(max_examples=200, deadline=None)
@given(steps=st.lists(st.tuples(GOAL_TARGETS, ACHIEVEMENT, st.booleans()), max_size=25))
def test_goal_lifecycle_holds_under_random_changes_and_replays(steps: list) -> None:  # type: ignore[type-arg]
    plan = CarePlan.start(uuid.uuid4(), REFERRER)
    goal_id = uuid.uuid4()
    plan.set_goal(goal_id, "housing", "home", "proposed", None, None, REFERRER)
    history = list(plan.collect_events())
    for target, achievement, progress_only in steps:
        goal = plan.items.goals[goal_id]
        before = (goal.status, goal.achievement, plan.version)
        try:
            if progress_only and achievement:
                plan.record_achievement(goal_id, achievement, "", REFERRER)
            else:
                plan.change_goal_status(goal_id, target, achievement, "", REFERRER)
        except DomainError:
            assert (goal.status, goal.achievement, plan.version) == before
            continue
        history.extend(plan.collect_events())
        assert goal.status in GOAL_STATUSES
        if goal.status == "completed":
            assert goal.achievement is not None
        if before[0] in ("completed", "cancelled", "rejected"):
            assert goal.status in (before[0], "entered-in-error")
    assert comparable(replayed(history)) == comparable(plan)
