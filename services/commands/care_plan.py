"""Need, goal and task messages → the client's CarePlan aggregate (from the custodian or an
organisation on the client's care team)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from domain import authority
from domain.care_plan import CarePlan
from domain.client import Client
from domain.provenance import Provenance
from services.commands.support import Handler, per_client_step, recording_date


def _related(client: Client, p: Provenance) -> None:
    authority.require_relationship(client, p, "change this client's care plan",
                                   recording_date())


def _plan_step(step: Callable[[CarePlan, Any, Provenance], None]) -> Handler:
    return per_client_step(CarePlan, step, _related)


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
