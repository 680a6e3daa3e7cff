"""Need, goal and task messages → the client's CarePlan aggregate."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from eventsourcing.domain import Aggregate

from domain.care_plan import CarePlan
from domain.provenance import Provenance
from services.care_app import CareLoop
from services.command_support import Handler, active_client, care_plan_of


def _plan_step(step: Callable[[CarePlan, Any, Provenance], None]) -> Handler:
    def handle(app: CareLoop, m: Any, p: Provenance) -> list[Aggregate]:
        active_client(app, m.payload.client_id)
        plan = care_plan_of(app, m.payload.client_id, p)
        step(plan, m.payload, p)
        return [plan]

    return handle


HANDLERS: dict[str, Handler] = {
    "need.identified": _plan_step(
        lambda c, pl, p: c.identify_need(pl.need_id, pl.domain, pl.description, p)),
    "need.resolved": _plan_step(lambda c, pl, p: c.resolve_need(pl.need_id, pl.note, p)),
    "goal.set": _plan_step(
        lambda c, pl, p: c.set_goal(pl.goal_id, pl.domain, pl.description, pl.lifecycle_status,
                                    pl.need_id, pl.target_date, p)),
    "goal.status_changed": _plan_step(
        lambda c, pl, p: c.change_goal_status(pl.goal_id, pl.lifecycle_status,
                                              pl.achievement_status, pl.reason, p)),
    "goal.achievement_recorded": _plan_step(
        lambda c, pl, p: c.record_achievement(pl.goal_id, pl.achievement_status, pl.note, p)),
    "task.added": _plan_step(
        lambda c, pl, p: c.add_task(pl.task_id, pl.title, pl.owner, pl.due_date, pl.domain,
                                    "care-plan", p)),
    "task.completed": _plan_step(lambda c, pl, p: c.complete_task(pl.task_id, pl.note, p)),
    "task.cancelled": _plan_step(lambda c, pl, p: c.cancel_task(pl.task_id, pl.reason, p)),
}
