"""CarePlan: needs, goals (FHIR lifecycle + achievement) and tasks (given/when/then)."""

from __future__ import annotations

import uuid
from datetime import date

import pytest

from domain.care_plan import (
    GOAL_STATUSES,
    GOAL_TRANSITIONS,
    AchievementRequired,
    CarePlan,
    CarePlanError,
    DuplicateItem,
    InvalidGoalTransition,
    TaskClosed,
    UnknownItem,
)
from domain.security import SUBSTANCE_USE, UNLABELLED
from tests.unit.domain_fixtures import SOCIAL_WORKER as P

PATH_TO = {
    "proposed": [], "planned": ["planned"], "accepted": ["accepted"],
    "active": ["accepted", "active"], "on-hold": ["accepted", "active", "on-hold"],
    "completed": ["accepted", "active", "completed"],
    "cancelled": ["cancelled"], "rejected": ["rejected"],
    "entered-in-error": ["entered-in-error"],
}


def plan_with_goal(status: str = "proposed", domain: str = "housing") -> tuple[CarePlan, uuid.UUID]:
    plan = CarePlan.start(uuid.uuid4(), P)
    goal_id = uuid.uuid4()
    plan.set_goal(goal_id, domain, "stable tenancy", "proposed", None, None, P)
    for step in PATH_TO[status]:
        plan.change_goal_status(goal_id, step, "achieved" if step == "completed" else None, "", P)
    assert plan.items.goals[goal_id].status == status
    return plan, goal_id


PAIRS = [(a, b) for a in GOAL_STATUSES for b in GOAL_STATUSES if b != "proposed"]


@pytest.mark.parametrize(("start", "target"), PAIRS, ids=[f"{a}->{b}" for a, b in PAIRS])
def test_goal_moves_only_along_the_fhir_lifecycle(start: str, target: str) -> None:
    plan, goal_id = plan_with_goal(start)
    allowed = (target in GOAL_TRANSITIONS.get(start, set())
               or (target == "entered-in-error" and start != "entered-in-error"))
    version = plan.version
    if allowed:
        plan.change_goal_status(goal_id, target, "achieved", "", P)
        assert plan.items.goals[goal_id].status == target
    else:
        with pytest.raises(InvalidGoalTransition):
            plan.change_goal_status(goal_id, target, "achieved", "", P)
        assert plan.version == version


def test_completed_goal_needs_an_achievement_status() -> None:
    plan, goal_id = plan_with_goal("active")
    with pytest.raises(AchievementRequired) as refused:
        plan.change_goal_status(goal_id, "completed", None, "", P)
    assert refused.value.field == "payload.achievement_status"
    plan.record_achievement(goal_id, "achieved", "tenancy signed", P)
    plan.change_goal_status(goal_id, "completed", None, "", P)
    assert plan.items.goals[goal_id].achievement == "achieved"


def test_achievement_is_separate_from_lifecycle_and_only_on_open_goals() -> None:
    plan, goal_id = plan_with_goal("active")
    plan.record_achievement(goal_id, "improving", "", P)
    assert plan.items.goals[goal_id].status == "active"
    closed, closed_id = plan_with_goal("cancelled")
    with pytest.raises(InvalidGoalTransition):
        closed.record_achievement(closed_id, "improving", "", P)
    with pytest.raises(CarePlanError):
        plan.record_achievement(goal_id, "vibes", "", P)


def test_goal_starts_only_in_an_initial_status_and_names_known_needs() -> None:
    plan = CarePlan.start(uuid.uuid4(), P)
    with pytest.raises(CarePlanError):
        plan.set_goal(uuid.uuid4(), "housing", "d", "completed", None, None, P)
    with pytest.raises(UnknownItem):
        plan.set_goal(uuid.uuid4(), "housing", "d", "active", uuid.uuid4(), None, P)
    with pytest.raises(CarePlanError):
        plan.set_goal(uuid.uuid4(), "astrology", "d", "active", None, None, P)


def test_substance_use_goals_and_needs_carry_part2_labels_from_the_start() -> None:
    plan, _ = plan_with_goal(domain="substance-use")
    need_id = uuid.uuid4()
    plan.identify_need(need_id, "substance-use", "alcohol use", P)
    events = plan.collect_events()
    assert events[1].security == SUBSTANCE_USE  # type: ignore[attr-defined]
    assert events[-1].security == SUBSTANCE_USE  # type: ignore[attr-defined]
    housing, _ = plan_with_goal(domain="housing")
    assert housing.collect_events()[1].security == UNLABELLED  # type: ignore[attr-defined]


def test_needs_are_identified_once_and_resolved_once() -> None:
    plan = CarePlan.start(uuid.uuid4(), P)
    need_id = uuid.uuid4()
    plan.identify_need(need_id, "benefits", "no income", P)
    with pytest.raises(DuplicateItem):
        plan.identify_need(need_id, "benefits", "no income", P)
    plan.resolve_need(need_id, "benefit awarded", P)
    with pytest.raises(CarePlanError):
        plan.resolve_need(need_id, "again", P)
    with pytest.raises(UnknownItem):
        plan.resolve_need(uuid.uuid4(), "?", P)


def test_tasks_have_an_owner_and_close_once() -> None:
    plan = CarePlan.start(uuid.uuid4(), P)
    task_id = uuid.uuid4()
    with pytest.raises(CarePlanError):
        plan.add_task(task_id, "call landlord", " ", date(2026, 12, 1), "housing", "care-plan", P)
    plan.add_task(task_id, "call landlord", "sw-1", date(2026, 12, 1), "housing", "care-plan", P)
    with pytest.raises(DuplicateItem):
        plan.add_task(task_id, "again", "sw-1", date(2026, 12, 1), "housing", "care-plan", P)
    plan.complete_task(task_id, "done", P)
    with pytest.raises(TaskClosed):
        plan.cancel_task(task_id, "too late", P)
    other = uuid.uuid4()
    plan.add_task(other, "x", "sw-1", date(2026, 12, 1), "housing", "conference:c", P)
    with pytest.raises(CarePlanError):
        plan.cancel_task(other, " ", P)
    plan.cancel_task(other, "duplicate", P)
    assert plan.items.tasks[other].status == "cancelled"
