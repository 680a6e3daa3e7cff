"""The closed-loop referral: states from FHIR Task.status, sides from who made it.

The referrer's organisation drafts, cancels early and acknowledges the outcome; the
recipient organisation receives, accepts, works and reports the outcome. The loop closes
only when the referrer acknowledges a terminal outcome.
"""

from __future__ import annotations

from datetime import date
from enum import StrEnum
from typing import Protocol
from uuid import UUID

from eventsourcing.domain import Aggregate, event

from domain.business_days import HARD_RESPONSE_DAYS, SOFT_RESPONSE_DAYS, add_business_days
from domain.errors import (
    DomainError,
    InvalidReferralTransition,
    MissingReason,
    NotReferralParty,
    OutcomeAlreadyAcknowledged,
)
from domain.provenance import Provenance


class ReferralStatus(StrEnum):
    DRAFT = "draft"
    REQUESTED = "requested"
    RECEIVED = "received"
    ACCEPTED = "accepted"
    REJECTED = "rejected"
    IN_PROGRESS = "in-progress"
    ON_HOLD = "on-hold"
    COMPLETED = "completed"
    FAILED = "failed"
    CANCELLED = "cancelled"
    ENTERED_IN_ERROR = "entered-in-error"


S = ReferralStatus
TERMINAL = frozenset({S.REJECTED, S.COMPLETED, S.FAILED, S.CANCELLED, S.ENTERED_IN_ERROR})

OUTCOME_CODES = frozenset(
    {
        "got-help",
        "couldnt-contact",
        "not-eligible",
        "no-capacity",
        "no-longer-interested",
        "referred-elsewhere",
        "waitlisted",
        "interim-update-sent",
        "expired",
    }
)

REFERRER, RECIPIENT, EITHER = "referrer", "recipient", "either"

NON_CLINICAL_RECIPIENTS = {"housing": "housing-advocate", "benefits": "benefits-advocate"}
"""Services outside the clinical team, and the role that receives their referrals."""

AWAITING_ACKNOWLEDGEMENT = frozenset({S.REQUESTED})
AWAITING_DECISION = frozenset({S.REQUESTED, S.RECEIVED})
DEADLINES = {"response-due": AWAITING_ACKNOWLEDGEMENT, "response-deadline": AWAITING_DECISION}


class ConsentRequired(DomainError):
    """A referral to a non-clinical organisation needs the client's active consent first."""

    code = "consent_required"


class CancellationRule(DomainError):
    """The cancellation step does not fit the referral's cancellation state."""

    code = "cancellation_rule"


class DeadlineNotMissed(DomainError):
    """The referral's response deadline has not passed (or was met)."""

    code = "deadline_not_missed"


class ConsentingClient(Protocol):
    """What the referral needs to know of the client: may this go to that recipient?"""

    @property
    def id(self) -> UUID: ...

    def permits(self, role: str, organisation: str, purpose: str, category: str,
                on: date) -> bool: ...


def check_consent(client: ConsentingClient, to_service: str, to_organisation: str,
                  p: Provenance) -> None:
    role = NON_CLINICAL_RECIPIENTS.get(to_service)
    if role is None:
        return  # treatment within the clinical team needs no extra consent
    on = p.occurred_at.date()
    if not client.permits(role, to_organisation, "care-coordination", to_service, on):
        raise ConsentRequired(
            f"client {client.id} has no active consent permitting '{to_service}' information "
            f"to go to {to_organisation} ({role}) for care coordination on {on}; record one "
            "with consent.recorded first", field="payload.to_organisation")


class Referral(Aggregate):
    @event("Made")
    def __init__(
        self,
        id: UUID,
        client_id: UUID,
        to_service: str,
        to_organisation: str,
        reason: str,
        priority: str,
        draft: bool,
        response_due: date | None,
        response_deadline: date | None,
        provenance: Provenance,
    ) -> None:
        self.client_id = client_id
        self.to_service = to_service
        self.to_organisation = to_organisation
        self.reason = reason
        self.priority = priority
        self.from_organisation = provenance.actor.organisation
        self.requester = provenance.actor
        self.status = S.DRAFT if draft else S.REQUESTED
        self.response_due, self.response_deadline = response_due, response_deadline
        self.missed_deadlines: list[str] = []
        self.cancellation_pending = False
        self.owner: str | None = None
        self.outcome: str | None = None
        self.outcome_acknowledged = False

    @classmethod
    def make(
        cls,
        referral_id: UUID,
        client_id: UUID,
        to_service: str,
        to_organisation: str,
        reason: str,
        priority: str,
        provenance: Provenance,
        client: ConsentingClient,
        draft: bool = False,
    ) -> Referral:
        """Make (or draft) a referral; a made one is requested at once, with its deadlines."""
        if not reason.strip():
            raise MissingReason("a referral needs a reason", field="payload.reason")
        due = deadline = None
        if not draft:
            check_consent(client, to_service, to_organisation, provenance)
            due, deadline = response_deadlines(provenance)
        return cls(
            id=referral_id,
            client_id=client_id,
            to_service=to_service,
            to_organisation=to_organisation,
            reason=reason,
            priority=priority,
            draft=draft,
            response_due=due,
            response_deadline=deadline,
            provenance=provenance,
        )

    @property
    def is_terminal(self) -> bool:
        return self.status in TERMINAL

    # -- rules shared by every step -------------------------------------------------------

    def _require(self, action: str, side: str, allowed: set[ReferralStatus], p: Provenance) -> None:
        if self.status not in allowed:
            raise InvalidReferralTransition(
                self.id, self.status.value, action, sorted(s.value for s in allowed)
            )
        org = p.actor.organisation
        sides = {REFERRER: {self.from_organisation}, RECIPIENT: {self.to_organisation}}
        permitted = sides[side] if side in sides else sides[REFERRER] | sides[RECIPIENT]
        if org not in permitted:
            who = "the referring" if side == REFERRER else "the receiving"
            who = "a party's" if side == EITHER else who
            raise NotReferralParty(
                f"'{action}' must come from {who} organisation of referral {self.id}; "
                f"'{org}' is not it",
                field="actor.organisation",
            )

    @staticmethod
    def _need_reason(reason: str, field: str = "payload.reason") -> None:
        if not reason.strip():
            raise MissingReason("a reason is required for this step", field=field)

    def request(self, client: ConsentingClient, provenance: Provenance) -> None:
        """Send a drafted referral: the consent guard and the response clock start now."""
        self._require("request", REFERRER, {S.DRAFT}, provenance)
        check_consent(client, self.to_service, self.to_organisation, provenance)
        due, deadline = response_deadlines(provenance)
        self._requested(response_due=due, response_deadline=deadline, provenance=provenance)

    @event("Requested")
    def _requested(self, response_due: date, response_deadline: date,
                   provenance: Provenance) -> None:
        self.status = S.REQUESTED
        self.response_due, self.response_deadline = response_due, response_deadline

    # -- recipient steps ------------------------------------------------------------------

    def receive(self, provenance: Provenance) -> None:
        self._require("receive", RECIPIENT, {S.REQUESTED}, provenance)
        self._received(provenance=provenance)

    @event("Received")
    def _received(self, provenance: Provenance) -> None:
        self.status = S.RECEIVED

    def accept(self, owner: str, provenance: Provenance) -> None:
        self._require("accept", RECIPIENT, {S.REQUESTED, S.RECEIVED}, provenance)
        if not owner.strip():
            raise MissingReason("accepting a referral names its owner", field="payload.owner")
        self._accepted(owner=owner, provenance=provenance)

    @event("Accepted")
    def _accepted(self, owner: str, provenance: Provenance) -> None:
        self.status, self.owner = S.ACCEPTED, owner

    def reject(self, reason: str, provenance: Provenance) -> None:
        self._require("reject", RECIPIENT, {S.REQUESTED, S.RECEIVED}, provenance)
        self._need_reason(reason)
        self._rejected(reason=reason, provenance=provenance)

    @event("Rejected")
    def _rejected(self, reason: str, provenance: Provenance) -> None:
        self.status = S.REJECTED

    def start(self, provenance: Provenance) -> None:
        self._require("start", RECIPIENT, {S.ACCEPTED, S.ON_HOLD}, provenance)
        self._started(provenance=provenance)

    @event("Started")
    def _started(self, provenance: Provenance) -> None:
        self.status = S.IN_PROGRESS

    def put_on_hold(self, reason: str, provenance: Provenance) -> None:
        self._require("put on hold", RECIPIENT, {S.ACCEPTED, S.IN_PROGRESS}, provenance)
        self._need_reason(reason)
        self._put_on_hold(reason=reason, provenance=provenance)

    @event("PutOnHold")
    def _put_on_hold(self, reason: str, provenance: Provenance) -> None:
        self.status = S.ON_HOLD

    def complete(self, outcome: str, note: str, provenance: Provenance) -> None:
        self._require("complete", RECIPIENT, {S.ACCEPTED, S.IN_PROGRESS, S.ON_HOLD}, provenance)
        if outcome not in OUTCOME_CODES:
            raise MissingReason(
                f"outcome '{outcome}' is not one of {', '.join(sorted(OUTCOME_CODES))}",
                field="payload.outcome",
            )
        self._completed(outcome=outcome, note=note, provenance=provenance)

    @event("Completed")
    def _completed(self, outcome: str, note: str, provenance: Provenance) -> None:
        self.status, self.outcome = S.COMPLETED, outcome
        self.cancellation_pending = False

    def send_interim_update(self, note: str, provenance: Provenance) -> None:
        """Tell the referrer how it is going (business status 'interim-update-sent')."""
        self._require("send an interim update", RECIPIENT,
                      {S.ACCEPTED, S.IN_PROGRESS, S.ON_HOLD}, provenance)
        self._need_reason(note, "payload.note")
        self._interim_update_sent(note=note, provenance=provenance)

    @event("InterimUpdateSent")
    def _interim_update_sent(self, note: str, provenance: Provenance) -> None:
        pass

    def fail(self, reason: str, provenance: Provenance) -> None:
        self._require("fail", RECIPIENT, {S.ACCEPTED, S.IN_PROGRESS, S.ON_HOLD}, provenance)
        self._need_reason(reason)
        self._failed(reason=reason, provenance=provenance)

    @event("Failed")
    def _failed(self, reason: str, provenance: Provenance) -> None:
        self.status = S.FAILED
        self.cancellation_pending = False

    # -- cancellation: one step before acceptance, two once the other side has accepted ---

    EARLY = frozenset({S.DRAFT, S.REQUESTED, S.RECEIVED})
    LATE = frozenset({S.ACCEPTED, S.IN_PROGRESS, S.ON_HOLD})

    def cancel(self, reason: str, provenance: Provenance) -> None:
        """The referrer cancels before acceptance; afterwards only the recipient cancels at
        once (the referrer asks with ``request_cancellation``)."""
        side = REFERRER if self.status in self.EARLY else RECIPIENT
        self._require("cancel", side, set(self.EARLY | self.LATE), provenance)
        self._need_reason(reason)
        self._cancelled(reason=reason, provenance=provenance)

    @event("Cancelled")
    def _cancelled(self, reason: str, provenance: Provenance) -> None:
        self.status = S.CANCELLED
        self.cancellation_pending = False

    def request_cancellation(self, reason: str, provenance: Provenance) -> None:
        self._require("request cancellation", REFERRER, set(self.LATE), provenance)
        self._need_reason(reason)
        if self.cancellation_pending:
            raise CancellationRule(f"cancellation of referral {self.id} is already requested",
                                   field="payload.referral_id")
        self._cancellation_requested(reason=reason, provenance=provenance)

    @event("CancellationRequested")
    def _cancellation_requested(self, reason: str, provenance: Provenance) -> None:
        self.cancellation_pending = True

    def _require_pending(self) -> None:
        if not self.cancellation_pending:
            raise CancellationRule(f"no cancellation of referral {self.id} is pending",
                                   field="payload.referral_id")

    def confirm_cancellation(self, provenance: Provenance) -> None:
        self._require("confirm cancellation", RECIPIENT, set(self.LATE), provenance)
        self._require_pending()
        self._cancellation_confirmed(provenance=provenance)

    @event("CancellationConfirmed")
    def _cancellation_confirmed(self, provenance: Provenance) -> None:
        self.status = S.CANCELLED
        self.cancellation_pending = False

    def decline_cancellation(self, reason: str, provenance: Provenance) -> None:
        self._require("decline cancellation", RECIPIENT, set(self.LATE), provenance)
        self._require_pending()
        self._need_reason(reason)
        self._cancellation_declined(reason=reason, provenance=provenance)

    @event("CancellationDeclined")
    def _cancellation_declined(self, reason: str, provenance: Provenance) -> None:
        self.cancellation_pending = False

    # -- deadlines: a missed one is a fact, never a state ---------------------------------

    def record_missed_deadline(self, kind: str, as_of: date, provenance: Provenance) -> None:
        """careloop's deadline watcher records that the recipient did not respond in time."""
        due = {"response-due": self.response_due,
               "response-deadline": self.response_deadline}.get(kind)
        if kind not in DEADLINES:
            raise DeadlineNotMissed(f"unknown deadline '{kind}'", field="kind")
        if due is None or self.status not in DEADLINES[kind] or as_of <= due:
            raise DeadlineNotMissed(
                f"referral {self.id} ('{self.status.value}') has not missed its {kind} "
                f"({due}) as of {as_of}", field="kind")
        if kind in self.missed_deadlines:
            raise DeadlineNotMissed(f"{kind} of referral {self.id} is already recorded",
                                    field="kind")
        self._deadline_missed(kind=kind, due=due, as_of=as_of, provenance=provenance)

    @event("ResponseDeadlineMissed")
    def _deadline_missed(self, kind: str, due: date, as_of: date,
                         provenance: Provenance) -> None:
        self.missed_deadlines.append(kind)

    # -- referrer steps --------------------------------------------------------------------

    def mark_entered_in_error(self, reason: str, provenance: Provenance) -> None:
        self._require("mark entered in error", REFERRER, set(S) - TERMINAL, provenance)
        self._need_reason(reason)
        self._entered_in_error(reason=reason, provenance=provenance)

    @event("EnteredInError")
    def _entered_in_error(self, reason: str, provenance: Provenance) -> None:
        self.status = S.ENTERED_IN_ERROR
        self.cancellation_pending = False

    def acknowledge_outcome(self, note: str, provenance: Provenance) -> None:
        closable = TERMINAL - {S.ENTERED_IN_ERROR}
        self._require("acknowledge outcome", REFERRER, set(closable), provenance)
        if self.outcome_acknowledged:
            raise OutcomeAlreadyAcknowledged(
                f"the outcome of referral {self.id} was already acknowledged",
                field="payload.referral_id",
            )
        self._outcome_acknowledged(note=note, provenance=provenance)

    @event("OutcomeAcknowledged")
    def _outcome_acknowledged(self, note: str, provenance: Provenance) -> None:
        self.outcome_acknowledged = True


def response_deadlines(p: Provenance) -> tuple[date, date]:
    """(should respond by, must respond by), counted in business days from the request."""
    start = p.occurred_at.date()
    return (add_business_days(start, SOFT_RESPONSE_DAYS),
            add_business_days(start, HARD_RESPONSE_DAYS))
