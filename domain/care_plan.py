"""A client's care plan: needs by domain, goals with the FHIR lifecycle, and tasks.

One per client (its id derives from the client's). Substance-use needs and goals carry
42 CFR Part 2 labels from the moment they are recorded.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date
from functools import lru_cache
from typing import Any
from uuid import NAMESPACE_URL, UUID, uuid5

from eventsourcing.domain import Aggregate, event

from domain.errors import DomainError
from domain.provenance import Provenance
from domain.security import SUBSTANCE_USE, UNLABELLED, SecurityLabels

CARE_PLAN_NAMESPACE = uuid5(NAMESPACE_URL, "https://careloop.invalid/care-plan")
ID_CACHE = 65_536
"""Client ids whose derived aggregate id is remembered (about 10 MB at most)."""

NEED_DOMAINS = ("clinical", "housing", "benefits", "psychosocial", "substance-use")

GOAL_TRANSITIONS: dict[str, set[str]] = {
    "proposed": {"planned", "accepted", "rejected", "cancelled"},
    "planned": {"accepted", "active", "cancelled"},
    "accepted": {"active", "cancelled"},
    "active": {"on-hold", "completed", "cancelled"},
    "on-hold": {"active", "cancelled"},
}
GOAL_STATUSES = ("proposed", "planned", "accepted", "active", "on-hold", "completed",
                 "cancelled", "rejected", "entered-in-error")
INITIAL_GOAL_STATUSES = ("proposed", "planned", "accepted", "active")
ACHIEVEMENTS = ("in-progress", "improving", "worsening", "no-change", "achieved", "sustaining",
                "not-achieved", "no-progress", "not-attainable")


class CarePlanError(DomainError):
    """A care-plan rule refused the change."""

    code = "care_plan_rule"


class UnknownItem(CarePlanError):
    """No need, goal or task with that id on the client's plan."""

    code = "care_plan_item_not_found"


class DuplicateItem(CarePlanError):
    """A need, goal or task with that id already exists."""

    code = "care_plan_item_exists"


class InvalidGoalTransition(CarePlanError):
    """The goal's lifecycle status does not allow that step."""

    code = "invalid_goal_transition"


class AchievementRequired(CarePlanError):
    """Completing a goal needs an achievement status."""

    code = "achievement_required"


class TaskClosed(CarePlanError):
    """The task is already completed or cancelled."""

    code = "task_not_open"


def labels_for(domain: str) -> SecurityLabels:
    return SUBSTANCE_USE if domain == "substance-use" else UNLABELLED


@dataclass
class Need:
    domain: str
    description: str
    resolved: bool = False


@dataclass
class Goal:
    domain: str
    description: str
    status: str
    achievement: str | None = None


@dataclass
class Task:
    title: str
    owner: str
    due: date
    domain: str
    source: str
    status: str = "open"


@dataclass
class _Items:
    needs: dict[UUID, Need] = field(default_factory=dict)
    goals: dict[UUID, Goal] = field(default_factory=dict)
    tasks: dict[UUID, Task] = field(default_factory=dict)


class CarePlan(Aggregate):
    @staticmethod
    @lru_cache(maxsize=ID_CACHE)
    def id_for(client_id: UUID) -> UUID:
        """The same id for a client every time (remembered: ingest asks for each command)."""
        return uuid5(CARE_PLAN_NAMESPACE, str(client_id))

    @event("Started")
    def __init__(self, id: UUID, client_id: UUID, provenance: Provenance) -> None:
        self.client_id = client_id
        self.items = _Items()

    @classmethod
    def start(cls, client_id: UUID, provenance: Provenance) -> CarePlan:
        return cls(id=cls.id_for(client_id), client_id=client_id, provenance=provenance)

    # -- needs ------------------------------------------------------------------------------

    def identify_need(self, need_id: UUID, domain: str, description: str, p: Provenance) -> None:
        _one_of(domain, NEED_DOMAINS, "payload.domain")
        if need_id in self.items.needs:
            raise DuplicateItem(f"need {need_id} is already on the plan", field="payload.need_id")
        self._need_identified(need_id=need_id, domain=domain, description=description,
                              security=labels_for(domain), provenance=p)

    @event("NeedIdentified")
    def _need_identified(self, need_id: UUID, domain: str, description: str,
                         security: SecurityLabels, provenance: Provenance) -> None:
        self.items.needs[need_id] = Need(domain, description)

    def resolve_need(self, need_id: UUID, note: str, p: Provenance) -> None:
        need = self._need(need_id)
        if need.resolved:
            raise CarePlanError(f"need {need_id} is already resolved", field="payload.need_id")
        self._need_resolved(need_id=need_id, note=note, security=labels_for(need.domain),
                            provenance=p)

    @event("NeedResolved")
    def _need_resolved(self, need_id: UUID, note: str, security: SecurityLabels,
                       provenance: Provenance) -> None:
        self.items.needs[need_id].resolved = True

    # -- goals ------------------------------------------------------------------------------

    def set_goal(self, goal_id: UUID, domain: str, description: str, status: str,
                 need_id: UUID | None, target_date: date | None, p: Provenance) -> None:
        _one_of(domain, NEED_DOMAINS, "payload.domain")
        _one_of(status, INITIAL_GOAL_STATUSES, "payload.lifecycle_status")
        if goal_id in self.items.goals:
            raise DuplicateItem(f"goal {goal_id} is already on the plan", field="payload.goal_id")
        if need_id is not None:
            self._need(need_id)
        self._goal_set(goal_id=goal_id, domain=domain, description=description, status=status,
                       need_id=need_id, target_date=target_date, security=labels_for(domain),
                       provenance=p)

    @event("GoalSet")
    def _goal_set(self, goal_id: UUID, domain: str, description: str, status: str,
                  need_id: UUID | None, target_date: date | None, security: SecurityLabels,
                  provenance: Provenance) -> None:
        self.items.goals[goal_id] = Goal(domain, description, status)

    def change_goal_status(self, goal_id: UUID, status: str, achievement: str | None,
                           reason: str, p: Provenance) -> None:
        goal = self._goal(goal_id)
        _one_of(status, GOAL_STATUSES, "payload.lifecycle_status")
        if achievement is not None:
            _one_of(achievement, ACHIEVEMENTS, "payload.achievement_status")
        allowed = GOAL_TRANSITIONS.get(goal.status, set())
        if status != "entered-in-error" and status not in allowed:
            raise InvalidGoalTransition(
                f"goal {goal_id} is '{goal.status}'; it can go to "
                f"{', '.join(sorted(allowed | {'entered-in-error'}))}, not '{status}'",
                field="payload.lifecycle_status")
        if goal.status == "entered-in-error":
            raise InvalidGoalTransition(f"goal {goal_id} was entered in error",
                                        field="payload.goal_id")
        if status == "completed" and (achievement or goal.achievement) is None:
            raise AchievementRequired(
                "a completed goal needs an achievement status (e.g. 'achieved', 'not-achieved')",
                field="payload.achievement_status")
        self._goal_status_changed(goal_id=goal_id, status=status, achievement=achievement,
                                  reason=reason, security=labels_for(goal.domain), provenance=p)

    @event("GoalStatusChanged")
    def _goal_status_changed(self, goal_id: UUID, status: str, achievement: str | None,
                             reason: str, security: SecurityLabels,
                             provenance: Provenance) -> None:
        goal = self.items.goals[goal_id]
        goal.status = status
        goal.achievement = achievement or goal.achievement

    def record_achievement(self, goal_id: UUID, achievement: str, note: str,
                           p: Provenance) -> None:
        goal = self._goal(goal_id)
        _one_of(achievement, ACHIEVEMENTS, "payload.achievement_status")
        if goal.status not in GOAL_TRANSITIONS:
            raise InvalidGoalTransition(
                f"goal {goal_id} is '{goal.status}'; progress is recorded only on open goals",
                field="payload.goal_id")
        self._achievement_recorded(goal_id=goal_id, achievement=achievement, note=note,
                                   security=labels_for(goal.domain), provenance=p)

    @event("GoalAchievementRecorded")
    def _achievement_recorded(self, goal_id: UUID, achievement: str, note: str,
                              security: SecurityLabels, provenance: Provenance) -> None:
        self.items.goals[goal_id].achievement = achievement

    # -- tasks ------------------------------------------------------------------------------

    def add_task(self, task_id: UUID, title: str, owner: str, due: date, domain: str,
                 source: str, p: Provenance) -> None:
        """``source`` says where the task came from: 'care-plan' or 'conference:<id>'."""
        _one_of(domain, NEED_DOMAINS, "payload.domain")
        if task_id in self.items.tasks:
            raise DuplicateItem(f"task {task_id} is already on the plan", field="payload.task_id")
        if not owner.strip():
            raise CarePlanError("a task needs an owner", field="payload.owner")
        self._task_added(task_id=task_id, title=title, owner=owner, due=due, domain=domain,
                         source=source, security=labels_for(domain), provenance=p)

    @event("TaskAdded")
    def _task_added(self, task_id: UUID, title: str, owner: str, due: date, domain: str,
                    source: str, security: SecurityLabels, provenance: Provenance) -> None:
        self.items.tasks[task_id] = Task(title, owner, due, domain, source)

    def complete_task(self, task_id: UUID, note: str, p: Provenance) -> None:
        task = self._open_task(task_id)
        self._task_completed(task_id=task_id, note=note, security=labels_for(task.domain),
                             provenance=p)

    @event("TaskCompleted")
    def _task_completed(self, task_id: UUID, note: str, security: SecurityLabels,
                        provenance: Provenance) -> None:
        self.items.tasks[task_id].status = "completed"

    def cancel_task(self, task_id: UUID, reason: str, p: Provenance) -> None:
        task = self._open_task(task_id)
        if not reason.strip():
            raise CarePlanError("cancelling a task needs a reason", field="payload.reason")
        self._task_cancelled(task_id=task_id, reason=reason, security=labels_for(task.domain),
                             provenance=p)

    @event("TaskCancelled")
    def _task_cancelled(self, task_id: UUID, reason: str, security: SecurityLabels,
                        provenance: Provenance) -> None:
        self.items.tasks[task_id].status = "cancelled"

    # -- lookups ----------------------------------------------------------------------------

    def _need(self, need_id: UUID) -> Need:
        if need_id not in self.items.needs:
            raise UnknownItem(f"no need {need_id} on this care plan", field="payload.need_id")
        return self.items.needs[need_id]

    def _goal(self, goal_id: UUID) -> Goal:
        if goal_id not in self.items.goals:
            raise UnknownItem(f"no goal {goal_id} on this care plan", field="payload.goal_id")
        return self.items.goals[goal_id]

    def _open_task(self, task_id: UUID) -> Task:
        if task_id not in self.items.tasks:
            raise UnknownItem(f"no task {task_id} on this care plan", field="payload.task_id")
        task = self.items.tasks[task_id]
        if task.status != "open":
            raise TaskClosed(f"task {task_id} is already {task.status}", field="payload.task_id")
        return task


def _one_of(value: Any, allowed: tuple[str, ...], field_name: str) -> None:
    if value not in allowed:
        raise CarePlanError(f"'{value}' is not one of {', '.join(allowed)}", field=field_name)
