"""The case conference: several disciplines decide together about the clients on an agenda.

``draft → scheduled → in-session → adjourned → finalized``; ``draft|scheduled → cancelled``;
any → ``entered-in-error``. The organisation that drafted it convenes it (schedules, records
attendance and agreements, cancels); the chair opens, adjourns and signs off; the minutes are
recorded by someone present. Once signed off the minutes never change: corrections are
addenda. Conference-wide events name every agenda client (``client_ids``) and per-item
events name theirs (``client_id``), so each client's care plan can follow. Refusals live in
``domain.case_conference_items`` with the vocabulary they check.
"""

from __future__ import annotations

from collections.abc import Collection
from datetime import date, datetime
from enum import StrEnum
from uuid import UUID, uuid5

from eventsourcing.domain import Aggregate, event

from domain.case_conference_errors import (
    ActionsUnassigned,
    AgendaRequired,
    AgreementAlreadyRecorded,
    AgreementMissing,
    AlreadyAttending,
    AlreadyReviewed,
    ChairNotInvited,
    DetailRequired,
    DuplicateAddendum,
    DuplicateAgendaItem,
    InvalidConferenceTransition,
    InvitationsRequired,
    ItemConcluded,
    ItemsOutstanding,
    MinutesSignedOff,
    NotChair,
    NotConvener,
    NotOnAgenda,
    NotPresent,
    PreviousActionsUnreviewed,
    PreviousConferenceNotFinalized,
    QuorumNotMet,
    UnknownActionItem,
)
from domain.case_conference_items import (
    AGREEMENT_METHODS,
    DISCIPLINE_OF_ROLE,
    MEDICAL,
    OTHER_DISCIPLINES_NEEDED,
    REVIEW_OUTCOMES,
    ActionItem,
    AgendaItem,
    Data,
    Person,
    PreviousAction,
    action_item_of,
    combine,
    decision_of,
    dissent_of,
    information_of,
    person_of,
    require_one_of,
    require_text,
    risk_review_of,
    shared_by,
)
from domain.errors import MissingReason
from domain.provenance import Provenance


class ConferenceStatus(StrEnum):
    DRAFT = "draft"
    SCHEDULED = "scheduled"
    IN_SESSION = "in-session"
    ADJOURNED = "adjourned"
    FINALIZED = "finalized"
    CANCELLED = "cancelled"
    ENTERED_IN_ERROR = "entered-in-error"


S = ConferenceStatus
MINUTES_STEPS = frozenset({"discuss item", "defer item", "assign action item", "adjourn",
                           "review previous action", "finalize"})
"""Steps that write the minutes: after sign-off they are refused as ``MinutesSignedOff``."""


class CaseConference(Aggregate):
    @event("Drafted")
    def __init__(self, id: UUID, title: str, provenance: Provenance) -> None:
        self.title = title
        self.organisation = provenance.actor.organisation
        self.status = S.DRAFT
        self.chair: Person | None = None
        self.scheduled_for: datetime | None = None
        self.invited: list[Person] = []
        self.previous_conference_id: UUID | None = None
        self.agenda: dict[UUID, AgendaItem] = {}
        self.attendees: list[Person] = []
        self.action_items: dict[UUID, ActionItem] = {}
        self.previous_actions: dict[UUID, PreviousAction] = {}
        self.addenda: list[UUID] = []

    @classmethod
    def draft(cls, conference_id: UUID, title: str, provenance: Provenance) -> CaseConference:
        require_text(f"conference {conference_id} is new", title, "payload.title",
                     "a conference needs a title")
        return cls(id=conference_id, title=title, provenance=provenance)

    # -- what other steps and the services read ------------------------------------------------

    @property
    def client_ids(self) -> list[UUID]:
        return list(self.agenda)

    @property
    def deferred_client_ids(self) -> list[UUID]:
        return [c for c, item in self.agenda.items() if item.outcome == "deferred"]

    @property
    def present(self) -> list[Person]:
        """The chair (present by chairing) and everyone recorded as attending."""
        return [*([self.chair] if self.chair else []), *self.attendees]

    def task_id_for(self, action_item_id: UUID) -> UUID:
        """The care-plan task an action item becomes: stable, so a replay adds no second."""
        return uuid5(self.id, str(action_item_id))

    def tasks(self) -> list[Data]:
        """Every action item as the care-plan task it becomes on sign-off."""
        return [{"task_id": self.task_id_for(aid), "action_item_id": aid,
                 "client_id": a.client_id, "title": a.title, "owner": a.owner, "due": a.due,
                 "domain": a.domain} for aid, a in self.action_items.items()]

    # -- rules shared by every step ------------------------------------------------------------

    def _is(self) -> str:
        return f"conference {self.id} is '{self.status.value}'"

    def _require(self, action: str, allowed: Collection[ConferenceStatus]) -> None:
        if self.status in allowed:
            return
        if self.status is S.FINALIZED and action in MINUTES_STEPS:
            raise MinutesSignedOff(
                f"{self._is()}: its minutes were signed off and never change; '{action}' is "
                "refused, send the correction as conference.addendum_added",
                self.status.value, action)
        states = ", ".join(s.value for s in S if s in allowed)
        raise InvalidConferenceTransition(
            f"{self._is()}; '{action}' is allowed only from {states}", self.status.value, action)

    def _by_convener(self, action: str, p: Provenance) -> None:
        if p.actor.organisation != self.organisation:
            raise NotConvener(
                f"{self._is()}; '{action}' must come from the convening organisation "
                f"'{self.organisation}', not '{p.actor.organisation}'", field="actor.organisation")

    def _by_chair(self, action: str, p: Provenance) -> None:
        if self.chair is None or not self.chair.is_actor(p.actor):
            chair = f"{self.chair.id}@{self.chair.organisation}" if self.chair else "nobody"
            raise NotChair(f"{self._is()}; only the chair ({chair}) may {action}, not "
                           f"{p.actor.id}@{p.actor.organisation}", field="actor.id")

    def _by_present(self, action: str, p: Provenance) -> None:
        if not any(person.is_actor(p.actor) for person in self.present):
            raise NotPresent(f"{self._is()}; '{action}' must come from the chair or a recorded "
                             f"attendee, and {p.actor.id}@{p.actor.organisation} is neither",
                             field="actor.id")

    def _item(self, client_id: UUID) -> AgendaItem:
        if client_id not in self.agenda:
            raise NotOnAgenda(f"{self._is()}; client {client_id} is not on its agenda",
                              field="payload.client_id")
        return self.agenda[client_id]

    def _open_item(self, client_id: UUID) -> None:
        outcome = self._item(client_id).outcome
        if outcome != "pending":
            raise ItemConcluded(f"{self._is()}; the agenda item of client {client_id} was "
                                f"already {outcome}", field="payload.client_id")

    def _need_reason(self, reason: str, rule: str) -> None:
        if not reason.strip():
            raise MissingReason(f"{self._is()}; {rule} (payload.reason is blank)",
                                field="payload.reason")

    # -- draft → scheduled ---------------------------------------------------------------------

    def schedule(self, chair: Data, scheduled_for: datetime, agenda: list[UUID],
                 invitations: list[Data], p: Provenance,
                 previous: CaseConference | None = None,
                 discharged: Collection[UUID] = ()) -> None:
        """Deferred items of ``previous`` join the agenda, except ``discharged`` clients';
        its action items must be reviewed here before this conference is signed off."""
        self._require("schedule", {S.DRAFT})
        self._by_convener("schedule", p)
        head = person_of(self._is(), chair, "payload.chair")
        invited = [person_of(self._is(), d, f"payload.invitations.{i}")
                   for i, d in enumerate(invitations)]
        if not invited:
            raise InvitationsRequired(f"{self._is()}; scheduling needs at least one invitation",
                                      field="payload.invitations")
        if head not in invited:
            raise ChairNotInvited(f"{self._is()}; the chair {head.id}@{head.organisation} must "
                                  "be among the invitations", field="payload.chair")
        for i, client_id in enumerate(agenda):
            if client_id in agenda[:i]:
                raise DuplicateAgendaItem(f"{self._is()}; client {client_id} is on the agenda "
                                          "twice", field=f"payload.agenda.{i}")
        carried: list[UUID] = []
        handed_over: list[Data] = []
        if previous is not None:
            if previous.status is not S.FINALIZED:
                raise PreviousConferenceNotFinalized(
                    f"{self._is()}; previous conference {previous.id} is "
                    f"'{previous.status.value}': only a finalized one hands over its deferred "
                    "items and action items", field="payload.previous_conference_id")
            carried = [c for c in previous.deferred_client_ids
                       if c not in agenda and c not in discharged]
            keys = ("action_item_id", "client_id", "title", "owner", "due")
            handed_over = [{k: t[k] for k in keys} for t in previous.tasks()]
        if not agenda and not carried:
            raise AgendaRequired(f"{self._is()}; scheduling needs at least one client on the "
                                 "agenda", field="payload.agenda")
        self._scheduled(
            title=self.title, chair=head.as_dict(), scheduled_for=scheduled_for,
            client_ids=[*agenda, *carried], carried_over_client_ids=carried,
            invitations=[person.as_dict() for person in dict.fromkeys(invited)],
            previous_conference_id=previous.id if previous else None,
            previous_action_items=handed_over, provenance=p)

    @event("Scheduled")
    def _scheduled(self, title: str, chair: Data, scheduled_for: datetime,
                   client_ids: list[UUID], carried_over_client_ids: list[UUID],
                   invitations: list[Data], previous_conference_id: UUID | None,
                   previous_action_items: list[Data], provenance: Provenance) -> None:
        self.status = S.SCHEDULED
        self.chair = Person.of(chair)
        self.scheduled_for = scheduled_for
        self.invited = [Person.of(d) for d in invitations]
        self.previous_conference_id = previous_conference_id
        self.agenda = {c: AgendaItem(carried_over=c in carried_over_client_ids)
                       for c in client_ids}
        self.previous_actions = {
            a["action_item_id"]: PreviousAction(a["client_id"], a["title"], a["owner"], a["due"])
            for a in previous_action_items}

    # -- before the session: who came, who agreed ----------------------------------------------

    def record_attendance(self, attendees: list[Data], p: Provenance) -> None:
        """Late arrivals may be recorded during the session too."""
        self._require("record attendance", {S.SCHEDULED, S.IN_SESSION})
        self._by_convener("record attendance", p)
        people = [person_of(self._is(), d, f"payload.attendees.{i}")
                  for i, d in enumerate(attendees)]
        if not people:
            raise DetailRequired(f"{self._is()}; attendance names at least one person",
                                 field="payload.attendees")
        for i, person in enumerate(people):
            if person in self.attendees or person in people[:i]:
                raise AlreadyAttending(f"{self._is()}; {person.id}@{person.organisation} is "
                                       "already recorded as attending",
                                       field=f"payload.attendees.{i}")
        self._attendance_recorded(client_ids=self.client_ids,
                                  attendees=[x.as_dict() for x in people], provenance=p)

    @event("AttendanceRecorded")
    def _attendance_recorded(self, client_ids: list[UUID], attendees: list[Data],
                             provenance: Provenance) -> None:
        self.attendees = [*self.attendees, *(Person.of(d) for d in attendees)]

    def _agreement_step(self, action: str, client_id: UUID, p: Provenance) -> None:
        self._require(action, {S.SCHEDULED})
        self._by_convener(action, p)
        recorded = self._item(client_id).agreement
        if recorded is not None:
            raise AgreementAlreadyRecorded(
                f"{self._is()}; client {client_id} already has '{recorded}' recorded",
                field="payload.client_id")

    def record_discussion_agreement(self, client_id: UUID, method: str, note: str,
                                    p: Provenance) -> None:
        self._agreement_step("record discussion agreement", client_id, p)
        require_one_of(self._is(), method, AGREEMENT_METHODS, "payload.method")
        self._discussion_agreed(client_id=client_id, method=method, note=note, provenance=p)

    @event("DiscussionAgreed")
    def _discussion_agreed(self, client_id: UUID, method: str, note: str,
                           provenance: Provenance) -> None:
        self.agenda[client_id].agreement = "agreed"

    def record_safeguarding_exception(self, client_id: UUID, reason: str,
                                      p: Provenance) -> None:
        self._agreement_step("record safeguarding exception", client_id, p)
        self._need_reason(reason, f"discussing client {client_id} without their agreement "
                                  "needs a documented safeguarding reason")
        self._safeguarding_exception_recorded(client_id=client_id, reason=reason, provenance=p)

    @event("SafeguardingExceptionRecorded")
    def _safeguarding_exception_recorded(self, client_id: UUID, reason: str,
                                         provenance: Provenance) -> None:
        self.agenda[client_id].agreement = "safeguarding-exception"

    # -- scheduled → in-session ----------------------------------------------------------------

    def start_session(self, p: Provenance) -> None:
        self._require("start the session", {S.SCHEDULED})
        self._by_chair("start the session", p)
        missing = [str(c) for c, item in self.agenda.items() if item.agreement is None]
        if missing:
            raise AgreementMissing(
                f"{self._is()}; each client on the agenda needs a recorded agreement to be "
                f"discussed or a safeguarding exception; missing for {', '.join(missing)}",
                field="payload.conference_id")
        present = {person.discipline for person in self.present}
        if MEDICAL not in present or len(present - {MEDICAL}) < OTHER_DISCIPLINES_NEEDED:
            raise QuorumNotMet(
                f"{self._is()}; a quorum is a psychiatrist plus at least "
                f"{OTHER_DISCIPLINES_NEEDED} other disciplines, and present are only: "
                f"{', '.join(sorted(present))}", field="payload.conference_id")
        self._session_started(client_ids=self.client_ids, disciplines_present=sorted(present),
                              provenance=p)

    @event("SessionStarted")
    def _session_started(self, client_ids: list[UUID], disciplines_present: list[str],
                         provenance: Provenance) -> None:
        self.status = S.IN_SESSION

    # -- in session: each agenda item discussed or deferred -------------------------------------

    def discuss_item(self, client_id: UUID, information_shared: list[Data],
                     risk_review: Data, decisions: list[Data], dissent: str | list[Data],
                     action_items: list[Data], p: Provenance) -> None:
        """Information shared is labelled by who shared it (psychiatry: PSY) and by any
        sensitive topic; the risk review is always psychiatric (R, PSY). ``security`` on the
        event is the most restrictive of them, for views that take or leave the whole item."""
        self._require("discuss item", {S.IN_SESSION})
        self._by_present("discuss item", p)
        self._open_item(client_id)
        where = self._is()
        shared = [information_of(where, d, f"payload.information_shared.{i}")
                  for i, d in enumerate(information_shared)]
        if not shared:
            raise DetailRequired(f"{where}; a discussed item records the information each "
                                 "discipline shared", field="payload.information_shared")
        risk = risk_review_of(where, risk_review)
        ruled = [decision_of(where, d, f"payload.decisions.{i}") for i, d in enumerate(decisions)]
        if not ruled:
            raise DetailRequired(f"{where}; a discussed item records at least one decision "
                                 "with its rationale", field="payload.decisions")
        stated = dissent_of(where, dissent)
        actions: list[Data] = []
        for i, d in enumerate(action_items):
            taken = {*self.action_items, *(a["action_item_id"] for a in actions)}
            actions.append(action_item_of(where, d, f"payload.action_items.{i}", taken))
        self._item_discussed(
            client_id=client_id, information_shared=shared, risk_review=risk, decisions=ruled,
            dissent=stated, action_items=actions,
            security=combine(risk["security"], *(s["security"] for s in shared)), provenance=p)

    @event("ItemDiscussed")
    def _item_discussed(self, client_id: UUID, information_shared: list[Data],
                        risk_review: Data, decisions: list[Data], dissent: str | list[Data],
                        action_items: list[Data], security: Data,
                        provenance: Provenance) -> None:
        self.agenda[client_id].outcome = "discussed"
        for a in action_items:
            self.action_items[a["action_item_id"]] = ActionItem(
                client_id, a["title"], a["domain"], a["owner"], a["due"])

    def defer_item(self, client_id: UUID, reason: str, p: Provenance) -> None:
        """A deferred item rolls onto the next conference scheduled after this one."""
        self._require("defer item", {S.IN_SESSION})
        self._by_present("defer item", p)
        self._open_item(client_id)
        self._need_reason(reason, f"deferring client {client_id}'s item needs a reason")
        self._item_deferred(client_id=client_id, reason=reason, provenance=p)

    @event("ItemDeferred")
    def _item_deferred(self, client_id: UUID, reason: str, provenance: Provenance) -> None:
        self.agenda[client_id].outcome = "deferred"

    def assign_action_item(self, action_item_id: UUID, owner: str, due: date,
                           p: Provenance) -> None:
        """Names (or changes) an action item's owner and due date, until sign-off."""
        self._require("assign action item", {S.IN_SESSION, S.ADJOURNED})
        self._by_present("assign action item", p)
        if action_item_id not in self.action_items:
            raise UnknownActionItem(f"{self._is()}; it has no action item {action_item_id}",
                                    field="payload.action_item_id")
        require_text(self._is(), owner, "payload.owner", "an action item's owner names someone")
        self._action_item_assigned(client_id=self.action_items[action_item_id].client_id,
                                   action_item_id=action_item_id, owner=owner, due=due,
                                   provenance=p)

    @event("ActionItemAssigned")
    def _action_item_assigned(self, client_id: UUID, action_item_id: UUID, owner: str,
                              due: date, provenance: Provenance) -> None:
        item = self.action_items[action_item_id]
        item.owner, item.due = owner, due

    # -- in-session → adjourned → finalized ----------------------------------------------------

    def adjourn(self, p: Provenance) -> None:
        self._require("adjourn", {S.IN_SESSION})
        self._by_chair("adjourn", p)
        pending = [str(c) for c, item in self.agenda.items() if item.outcome == "pending"]
        if pending:
            raise ItemsOutstanding(f"{self._is()}; every agenda item must be discussed or "
                                   f"deferred before adjourning; open: {', '.join(pending)}",
                                   field="payload.conference_id")
        self._adjourned(client_ids=self.client_ids,
                        deferred_client_ids=self.deferred_client_ids, provenance=p)

    @event("Adjourned")
    def _adjourned(self, client_ids: list[UUID], deferred_client_ids: list[UUID],
                   provenance: Provenance) -> None:
        self.status = S.ADJOURNED

    def review_previous_action(self, action_item_id: UUID, outcome: str, note: str,
                               p: Provenance) -> None:
        self._require("review previous action", {S.IN_SESSION, S.ADJOURNED})
        self._by_present("review previous action", p)
        previous = self.previous_actions.get(action_item_id)
        if previous is None:
            raise UnknownActionItem(f"{self._is()}; {action_item_id} is not an action item of "
                                    f"its previous conference ({self.previous_conference_id})",
                                    field="payload.action_item_id")
        if previous.review is not None:
            raise AlreadyReviewed(f"{self._is()}; previous action {action_item_id} was already "
                                  f"reviewed as '{previous.review}'",
                                  field="payload.action_item_id")
        require_one_of(self._is(), outcome, REVIEW_OUTCOMES, "payload.outcome")
        self._previous_action_reviewed(client_id=previous.client_id,
                                       action_item_id=action_item_id, outcome=outcome,
                                       note=note, provenance=p)

    @event("PreviousActionReviewed")
    def _previous_action_reviewed(self, client_id: UUID, action_item_id: UUID, outcome: str,
                                  note: str, provenance: Provenance) -> None:
        self.previous_actions[action_item_id].review = outcome

    def finalize(self, p: Provenance) -> None:
        """The chair's sign-off; each action item then becomes a task on its client's plan."""
        self._require("finalize", {S.ADJOURNED})
        self._by_chair("sign off the minutes", p)
        unassigned = [str(a) for a, item in self.action_items.items() if not item.assigned]
        if unassigned:
            raise ActionsUnassigned(f"{self._is()}; every action item needs an owner and a due "
                                    f"date before sign-off; missing: {', '.join(unassigned)}",
                                    field="payload.conference_id")
        unreviewed = [str(a) for a, prev in self.previous_actions.items() if prev.review is None]
        if unreviewed:
            raise PreviousActionsUnreviewed(
                f"{self._is()}; the previous conference's action items must be reviewed before "
                f"sign-off; not reviewed: {', '.join(unreviewed)}", field="payload.conference_id")
        self._finalized(client_ids=self.client_ids, tasks=self.tasks(), provenance=p)

    @event("Finalized")
    def _finalized(self, client_ids: list[UUID], tasks: list[Data],
                   provenance: Provenance) -> None:
        self.status = S.FINALIZED

    def add_addendum(self, addendum_id: UUID, client_id: UUID | None, text: str,
                     p: Provenance) -> None:
        """An addendum about one agenda item names its client; otherwise it concerns every
        client. It is labelled like information shared by its author's discipline."""
        self._require("add addendum", {S.FINALIZED})
        self._by_present("add addendum", p)
        if client_id is not None:
            self._item(client_id)
        if addendum_id in self.addenda:
            raise DuplicateAddendum(f"{self._is()}; addendum {addendum_id} was already added",
                                    field="payload.addendum_id")
        require_text(self._is(), text, "payload.text", "an addendum says what it corrects")
        self._addendum_added(
            addendum_id=addendum_id, client_id=client_id,
            client_ids=self.client_ids if client_id is None else [client_id], text=text,
            security=shared_by(DISCIPLINE_OF_ROLE.get(p.actor.role, ""), None), provenance=p)

    @event("AddendumAdded")
    def _addendum_added(self, addendum_id: UUID, client_id: UUID | None,
                        client_ids: list[UUID], text: str, security: Data,
                        provenance: Provenance) -> None:
        self.addenda = [*self.addenda, addendum_id]

    # -- ending early --------------------------------------------------------------------------

    def cancel(self, reason: str, p: Provenance) -> None:
        self._require("cancel", {S.DRAFT, S.SCHEDULED})
        self._by_convener("cancel", p)
        self._need_reason(reason, "cancelling needs a reason")
        self._cancelled(client_ids=self.client_ids, reason=reason, provenance=p)

    @event("Cancelled")
    def _cancelled(self, client_ids: list[UUID], reason: str, provenance: Provenance) -> None:
        self.status = S.CANCELLED

    def mark_entered_in_error(self, reason: str, p: Provenance) -> None:
        self._require("mark entered in error", set(S) - {S.ENTERED_IN_ERROR})
        self._by_convener("mark entered in error", p)
        self._need_reason(reason, "marking it entered in error needs a reason")
        self._entered_in_error(client_ids=self.client_ids, reason=reason, provenance=p)

    @event("EnteredInError")
    def _entered_in_error(self, client_ids: list[UUID], reason: str,
                          provenance: Provenance) -> None:
        self.status = S.ENTERED_IN_ERROR
