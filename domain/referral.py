"""The closed-loop referral: states from FHIR Task.status, sides from who made it.

The referrer's organisation drafts, cancels early and acknowledges the outcome; the
recipient organisation receives, accepts, works and reports the outcome. The loop closes
only when the referrer acknowledges a terminal outcome.
"""

from __future__ import annotations

from enum import StrEnum
from uuid import UUID

from eventsourcing.domain import Aggregate, event

from domain.errors import (
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
        provenance: Provenance,
    ) -> None:
        self.client_id = client_id
        self.to_service = to_service
        self.to_organisation = to_organisation
        self.reason = reason
        self.priority = priority
        self.from_organisation = provenance.actor.organisation
        self.requester = provenance.actor
        self.status = S.REQUESTED
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
    ) -> Referral:
        if not reason.strip():
            raise MissingReason("a referral needs a reason", field="payload.reason")
        return cls(
            id=referral_id,
            client_id=client_id,
            to_service=to_service,
            to_organisation=to_organisation,
            reason=reason,
            priority=priority,
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

    def fail(self, reason: str, provenance: Provenance) -> None:
        self._require("fail", RECIPIENT, {S.ACCEPTED, S.IN_PROGRESS, S.ON_HOLD}, provenance)
        self._need_reason(reason)
        self._failed(reason=reason, provenance=provenance)

    @event("Failed")
    def _failed(self, reason: str, provenance: Provenance) -> None:
        self.status = S.FAILED

    # -- referrer steps (and cancellation, which either side may do once accepted) --------

    def cancel(self, reason: str, provenance: Provenance) -> None:
        early = {S.DRAFT, S.REQUESTED, S.RECEIVED}
        late = {S.ACCEPTED, S.IN_PROGRESS, S.ON_HOLD}
        side = REFERRER if self.status in early else EITHER
        self._require("cancel", side, early | late, provenance)
        self._need_reason(reason)
        self._cancelled(reason=reason, provenance=provenance)

    @event("Cancelled")
    def _cancelled(self, reason: str, provenance: Provenance) -> None:
        self.status = S.CANCELLED

    def mark_entered_in_error(self, reason: str, provenance: Provenance) -> None:
        self._require("mark entered in error", REFERRER, set(S) - TERMINAL, provenance)
        self._need_reason(reason)
        self._entered_in_error(reason=reason, provenance=provenance)

    @event("EnteredInError")
    def _entered_in_error(self, reason: str, provenance: Provenance) -> None:
        self.status = S.ENTERED_IN_ERROR

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
