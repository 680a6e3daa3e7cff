"""Messages that shape the client's care plan: needs, goals (FHIR Goal) and tasks."""

from __future__ import annotations

from datetime import date
from typing import Literal
from uuid import UUID

from pydantic import Field

from contracts.v1.envelope import Envelope, Strict

Domain = Literal["clinical", "housing", "benefits", "psychosocial", "substance-use"]
Lifecycle = Literal["proposed", "planned", "accepted", "active", "on-hold", "completed",
                    "cancelled", "rejected", "entered-in-error"]
Achievement = Literal["in-progress", "improving", "worsening", "no-change", "achieved",
                      "sustaining", "not-achieved", "no-progress", "not-attainable"]


class PlanRef(Strict):
    client_id: UUID = Field(description="The client whose care plan this is.")


class NeedIdentifiedPayload(PlanRef):
    need_id: UUID = Field(description="The need's id (UUID).")
    domain: Domain = Field(description="clinical, housing, benefits, psychosocial or substance-use.")
    description: str = Field(min_length=1, max_length=2000, description="The need, in words.")


class NeedResolvedPayload(PlanRef):
    need_id: UUID = Field(description="The need's id (UUID).")
    note: str = Field(default="", max_length=2000, description="A note for the team.")


class GoalSetPayload(PlanRef):
    goal_id: UUID = Field(description="The goal's id (UUID).")
    domain: Domain = Field(description="clinical, housing, benefits, psychosocial or substance-use.")
    description: str = Field(min_length=1, max_length=2000, description="The goal, in words.")
    lifecycle_status: Literal["proposed", "planned", "accepted", "active"] = Field(
        default="proposed", description="FHIR Goal lifecycleStatus to start in.")
    need_id: UUID | None = Field(default=None, description="The need the goal addresses.")
    target_date: date | None = Field(default=None, description="When it should be met.")


class GoalStatusChangedPayload(PlanRef):
    goal_id: UUID = Field(description="The goal's id (UUID).")
    lifecycle_status: Lifecycle = Field(description="The new FHIR Goal lifecycleStatus.")
    achievement_status: Achievement | None = Field(
        default=None, description="Required when completing, unless recorded before.")
    reason: str = Field(default="", max_length=2000, description="Why it changed.")


class GoalAchievementPayload(PlanRef):
    goal_id: UUID = Field(description="The goal's id (UUID).")
    achievement_status: Achievement = Field(description="FHIR Goal achievementStatus.")
    note: str = Field(default="", max_length=2000, description="A note for the team.")


class TaskAddedPayload(PlanRef):
    task_id: UUID = Field(description="The task's id (UUID).")
    title: str = Field(min_length=1, max_length=500, description="What is to be done.")
    owner: str = Field(min_length=1, max_length=128, description="The person responsible.")
    due_date: date = Field(description="When it is due.")
    domain: Domain = Field(description="clinical, housing, benefits, psychosocial or substance-use.")


class TaskClosedPayload(PlanRef):
    task_id: UUID = Field(description="The task's id (UUID).")
    note: str = Field(default="", max_length=2000, description="A note for the team.")


class TaskCancelledPayload(PlanRef):
    task_id: UUID = Field(description="The task's id (UUID).")
    reason: str = Field(min_length=1, max_length=2000, description="Why it was called off.")


class NeedIdentified(Envelope):
    """A need or problem was identified in one domain."""

    message_type: Literal["need.identified"]
    payload: NeedIdentifiedPayload


class NeedResolved(Envelope):
    """A need was resolved."""

    message_type: Literal["need.resolved"]
    payload: NeedResolvedPayload


class GoalSet(Envelope):
    """A goal was set on the care plan (FHIR Goal lifecycleStatus)."""

    message_type: Literal["goal.set"]
    payload: GoalSetPayload


class GoalStatusChanged(Envelope):
    """A goal moved through its lifecycle (completed needs an achievement status)."""

    message_type: Literal["goal.status_changed"]
    payload: GoalStatusChangedPayload


class GoalAchievementRecorded(Envelope):
    """Progress towards a goal was recorded (achievementStatus)."""

    message_type: Literal["goal.achievement_recorded"]
    payload: GoalAchievementPayload


class TaskAdded(Envelope):
    """An intervention or task was added, with an owner and a due date."""

    message_type: Literal["task.added"]
    payload: TaskAddedPayload


class TaskCompleted(Envelope):
    """A task was done."""

    message_type: Literal["task.completed"]
    payload: TaskClosedPayload


class TaskCancelled(Envelope):
    """A task was called off, with a reason."""

    message_type: Literal["task.cancelled"]
    payload: TaskCancelledPayload


MESSAGE_TYPES: dict[str, type[Envelope]] = {
    "need.identified": NeedIdentified,
    "need.resolved": NeedResolved,
    "goal.set": GoalSet,
    "goal.status_changed": GoalStatusChanged,
    "goal.achievement_recorded": GoalAchievementRecorded,
    "task.added": TaskAdded,
    "task.completed": TaskCompleted,
    "task.cancelled": TaskCancelled,
}
