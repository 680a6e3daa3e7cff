"""Every inbound message type careloop v1 understands, by the name senders use."""

from __future__ import annotations

from contracts.v1 import (
    care_plan_messages,
    client_messages,
    clinical_messages,
    conference_messages,
    referral_messages,
)
from contracts.v1.envelope import Envelope

MESSAGE_TYPES: dict[str, type[Envelope]] = {
    **client_messages.MESSAGE_TYPES,
    **referral_messages.MESSAGE_TYPES,
    **care_plan_messages.MESSAGE_TYPES,
    **clinical_messages.MESSAGE_TYPES,
    **conference_messages.MESSAGE_TYPES,
}
