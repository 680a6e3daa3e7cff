"""Every inbound message type careloop v1 understands, by the name senders use."""

from __future__ import annotations

from contracts.v1 import client_messages as c
from contracts.v1 import clinical_messages, conference_messages
from contracts.v1 import referral_messages as r
from contracts.v1.envelope import Envelope

MESSAGE_TYPES: dict[str, type[Envelope]] = {
    "client.registered": c.ClientRegistered,
    "referral.made": r.ReferralMade,
    "referral.received": r.ReferralReceived,
    "referral.accepted": r.ReferralAccepted,
    "referral.rejected": r.ReferralRejected,
    "referral.started": r.ReferralStarted,
    "referral.put_on_hold": r.ReferralPutOnHold,
    "referral.completed": r.ReferralCompleted,
    "referral.failed": r.ReferralFailed,
    "referral.cancelled": r.ReferralCancelled,
    "referral.entered_in_error": r.ReferralEnteredInError,
    "referral.outcome_acknowledged": r.ReferralOutcomeAcknowledged,
    **clinical_messages.MESSAGE_TYPES,
    **conference_messages.MESSAGE_TYPES,
}
