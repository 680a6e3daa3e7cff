"""Conference messages → CaseConference aggregate (and, on sign-off, the clients' care plans).

Finalizing returns the conference and every care plan it added tasks to, so the sign-off and
the tasks are saved in one transaction or not at all.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any
from uuid import UUID

from eventsourcing.domain import Aggregate

from contracts.v1 import conference_messages as cm
from domain import authority
from domain.care_plan import CarePlan
from domain.case_conference import CaseConference, ConferenceStatus
from domain.case_conference_errors import (
    ConferenceAlreadyExists,
    ConferenceNotFound,
)
from domain.client import Client
from domain.provenance import Provenance
from services.commands.support import Handler, active_client, care_plan_of, load, recording_date
from services.store.care_app import CareLoop


def _conference(app: CareLoop, conference_id: UUID,
                field: str = "payload.conference_id") -> CaseConference:
    return load(app, conference_id, CaseConference, ConferenceNotFound(
        f"no conference {conference_id}; send conference.drafted first", field=field))


def _draft(app: CareLoop, m: cm.ConferenceDrafted, p: Provenance) -> list[Aggregate]:
    pl = m.payload
    if app.exists(pl.conference_id):
        raise ConferenceAlreadyExists(
            f"conference {pl.conference_id} already exists; a new conference needs a new id",
            field="payload.conference_id")
    return [CaseConference.draft(pl.conference_id, pl.title, p)]


def _schedule(app: CareLoop, m: cm.ConferenceScheduled, p: Provenance) -> list[Aggregate]:
    pl = m.payload
    conference = _conference(app, pl.conference_id)
    for i, client_id in enumerate(pl.agenda):
        active_client(app, client_id, field=f"payload.agenda.{i}",
                      authority=lambda c: authority.require_relationship(
                          c, p, "put this client on a conference agenda", recording_date()))
    previous: CaseConference | None = None
    discharged: set[UUID] = set()
    if pl.previous_conference_id is not None:
        previous = _conference(app, pl.previous_conference_id, "payload.previous_conference_id")
        for client_id in previous.deferred_client_ids:
            client = app.find(client_id, Client)
            if client is None or client.discharged:
                discharged.add(client_id)
    conference.schedule(pl.chair.model_dump(), pl.scheduled_for, list(pl.agenda),
                        [a.model_dump() for a in pl.invitations], p, previous, discharged)
    return [conference]


def _finalize(app: CareLoop, m: cm.Finalized, p: Provenance) -> list[Aggregate]:
    conference = _conference(app, m.payload.conference_id)
    conference.finalize(p)
    plans: dict[UUID, CarePlan] = {}
    for task in conference.tasks():
        client_id = task["client_id"]
        plan = plans.get(client_id) or care_plan_of(app, client_id, p)
        plans[client_id] = plan
        plan.add_task(task_id=task["task_id"], title=task["title"], owner=task["owner"],
                      due=task["due"], domain=task["domain"],
                      source=f"conference:{conference.id}", p=p)
    return [conference, *plans.values()]


def _enter_in_error(app: CareLoop, m: cm.ConferenceEnteredInError,
                    p: Provenance) -> list[Aggregate]:
    """Tasks a signed-off conference put on care plans are cancelled with it, if still open."""
    conference = _conference(app, m.payload.conference_id)
    was_finalized = conference.status is ConferenceStatus.FINALIZED
    conference.mark_entered_in_error(m.payload.reason, p)
    plans: dict[UUID, CarePlan] = {}
    for task in conference.tasks() if was_finalized else []:
        client_id, task_id = task["client_id"], task["task_id"]
        plan = plans.get(client_id) or app.find(CarePlan.id_for(client_id), CarePlan)
        on_plan = plan.items.tasks.get(task_id) if plan else None
        if plan is not None and on_plan is not None and on_plan.status == "open":
            plan.cancel_task(task_id, f"conference {conference.id} was entered in error: "
                             f"{m.payload.reason}", p)
            plans[client_id] = plan
    return [conference, *plans.values()]


def _step(step: Callable[[CaseConference, Any, Provenance], None]) -> Handler:
    def handle(app: CareLoop, m: Any, p: Provenance) -> list[Aggregate]:
        conference = _conference(app, m.payload.conference_id)
        step(conference, m.payload, p)
        return [conference]

    return handle


def _discuss(c: CaseConference, pl: cm.ItemDiscussedPayload, p: Provenance) -> None:
    dissent = pl.dissent if isinstance(pl.dissent, str) else [d.model_dump() for d in pl.dissent]
    c.discuss_item(pl.client_id, [i.model_dump() for i in pl.information_shared],
                   pl.risk_review.model_dump(), [d.model_dump() for d in pl.decisions], dissent,
                   [a.model_dump() for a in pl.action_items], p)


HANDLERS: dict[str, Handler] = {
    "conference.drafted": _draft,
    "conference.scheduled": _schedule,
    "conference.attendance_recorded": _step(
        lambda c, pl, p: c.record_attendance([a.model_dump() for a in pl.attendees], p)),
    "conference.discussion_agreed": _step(
        lambda c, pl, p: c.record_discussion_agreement(pl.client_id, pl.method, pl.note, p)),
    "conference.safeguarding_exception_recorded": _step(
        lambda c, pl, p: c.record_safeguarding_exception(pl.client_id, pl.reason, p)),
    "conference.session_started": _step(lambda c, pl, p: c.start_session(p)),
    "conference.item_discussed": _step(_discuss),
    "conference.item_deferred": _step(lambda c, pl, p: c.defer_item(pl.client_id, pl.reason, p)),
    "conference.action_item_assigned": _step(
        lambda c, pl, p: c.assign_action_item(pl.action_item_id, pl.owner, pl.due, p)),
    "conference.adjourned": _step(lambda c, pl, p: c.adjourn(p)),
    "conference.previous_action_reviewed": _step(
        lambda c, pl, p: c.review_previous_action(pl.action_item_id, pl.outcome, pl.note, p)),
    "conference.finalized": _finalize,
    "conference.addendum_added": _step(
        lambda c, pl, p: c.add_addendum(pl.addendum_id, pl.client_id, pl.text, p)),
    "conference.cancelled": _step(lambda c, pl, p: c.cancel(pl.reason, p)),
    "conference.entered_in_error": _enter_in_error,
}
