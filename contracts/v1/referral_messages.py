"""Messages that move a closed-loop referral through its states (docs/domain.md, Referral states)."""

from __future__ import annotations

from typing import Literal
from uuid import UUID

from pydantic import Field

from contracts.v1.envelope import Envelope, Strict

Service = Literal["clinical-social-work", "psychiatry", "housing", "benefits"]
Priority = Literal["routine", "urgent", "asap", "stat"]
Outcome = Literal[
    "got-help",
    "couldnt-contact",
    "not-eligible",
    "no-capacity",
    "no-longer-interested",
    "referred-elsewhere",
    "waitlisted",
    "interim-update-sent",
    "expired",
]

REFERRAL_ID = Field(description="The referral's id (UUID), chosen by the referrer.")
REASON = Field(min_length=1, max_length=2000, description="Why, in words the other side reads.")


class ReferralRef(Strict):
    referral_id: UUID = REFERRAL_ID


class ReferralMadePayload(Strict):
    referral_id: UUID = REFERRAL_ID
    client_id: UUID = Field(description="The registered client being referred.")
    to_service: Service = Field(description="The service asked for.")
    to_organisation: str = Field(
        min_length=1, max_length=128, description="The organisation asked to provide it."
    )
    reason: str = REASON
    priority: Priority = Field(default="routine", description="FHIR request priority.")


class WithReason(ReferralRef):
    reason: str = REASON


class ReferralAcceptedPayload(ReferralRef):
    owner: str = Field(
        min_length=1, max_length=128, description="The person at the recipient who owns it."
    )


class ReferralCompletedPayload(ReferralRef):
    outcome: Outcome = Field(description="Outcome code (docs/domain.md).")
    note: str = Field(default="", max_length=2000, description="What was done, for the referrer.")


class OutcomeAcknowledgedPayload(ReferralRef):
    note: str = Field(default="", max_length=2000)


class ReferralDraftedPayload(ReferralMadePayload):
    pass


class NotePayload(ReferralRef):
    note: str = Field(min_length=1, max_length=2000)


class ReferralDrafted(Envelope):
    """The referrer prepared a referral without sending it yet (→ draft)."""

    message_type: Literal["referral.drafted"]
    payload: ReferralDraftedPayload


class ReferralRequested(Envelope):
    """The referrer sends a drafted referral (draft → requested); deadlines start."""

    message_type: Literal["referral.requested"]
    payload: ReferralRef


class ReferralInterimUpdateSent(Envelope):
    """The recipient tells the referrer how it is going (no state change)."""

    message_type: Literal["referral.interim_update_sent"]
    payload: NotePayload


class ReferralCancellationRequested(Envelope):
    """The referrer asks to cancel a referral the recipient already accepted."""

    message_type: Literal["referral.cancellation_requested"]
    payload: WithReason


class ReferralCancellationConfirmed(Envelope):
    """The recipient agrees to the requested cancellation (→ cancelled)."""

    message_type: Literal["referral.cancellation_confirmed"]
    payload: ReferralRef


class ReferralCancellationDeclined(Envelope):
    """The recipient declines the requested cancellation, with a reason; work goes on."""

    message_type: Literal["referral.cancellation_declined"]
    payload: WithReason


class ReferralMade(Envelope):
    """The referrer asks another service to take the client on (→ requested)."""

    message_type: Literal["referral.made"]
    payload: ReferralMadePayload


class ReferralReceived(Envelope):
    """The recipient confirms it has the referral (requested → received)."""

    message_type: Literal["referral.received"]
    payload: ReferralRef


class ReferralAccepted(Envelope):
    """The recipient takes it on and names an owner (requested|received → accepted)."""

    message_type: Literal["referral.accepted"]
    payload: ReferralAcceptedPayload


class ReferralRejected(Envelope):
    """The recipient declines, with a reason (requested|received → rejected)."""

    message_type: Literal["referral.rejected"]
    payload: WithReason


class ReferralStarted(Envelope):
    """The recipient starts or resumes work (accepted|on-hold → in-progress)."""

    message_type: Literal["referral.started"]
    payload: ReferralRef


class ReferralPutOnHold(Envelope):
    """The recipient pauses work, with a reason (accepted|in-progress → on-hold)."""

    message_type: Literal["referral.put_on_hold"]
    payload: WithReason


class ReferralCompleted(Envelope):
    """The recipient finishes, with an outcome code (→ completed)."""

    message_type: Literal["referral.completed"]
    payload: ReferralCompletedPayload


class ReferralFailed(Envelope):
    """The recipient could not do it, with a reason (→ failed)."""

    message_type: Literal["referral.failed"]
    payload: WithReason


class ReferralCancelled(Envelope):
    """The referrer (or, once accepted, either side) calls it off (→ cancelled)."""

    message_type: Literal["referral.cancelled"]
    payload: WithReason


class ReferralEnteredInError(Envelope):
    """The referrer withdraws a referral made by mistake (→ entered-in-error)."""

    message_type: Literal["referral.entered_in_error"]
    payload: WithReason


class ReferralOutcomeAcknowledged(Envelope):
    """The referrer has read the outcome: the loop is closed."""

    message_type: Literal["referral.outcome_acknowledged"]
    payload: OutcomeAcknowledgedPayload


MESSAGE_TYPES: dict[str, type[Envelope]] = {
    "referral.drafted": ReferralDrafted,
    "referral.requested": ReferralRequested,
    "referral.made": ReferralMade,
    "referral.received": ReferralReceived,
    "referral.accepted": ReferralAccepted,
    "referral.rejected": ReferralRejected,
    "referral.started": ReferralStarted,
    "referral.put_on_hold": ReferralPutOnHold,
    "referral.interim_update_sent": ReferralInterimUpdateSent,
    "referral.completed": ReferralCompleted,
    "referral.failed": ReferralFailed,
    "referral.cancelled": ReferralCancelled,
    "referral.cancellation_requested": ReferralCancellationRequested,
    "referral.cancellation_confirmed": ReferralCancellationConfirmed,
    "referral.cancellation_declined": ReferralCancellationDeclined,
    "referral.entered_in_error": ReferralEnteredInError,
    "referral.outcome_acknowledged": ReferralOutcomeAcknowledged,
}
