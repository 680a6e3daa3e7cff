"""What careloop answers, on ``careloop.receipts.<source-system>``, for every inbound message."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

RECEIPT_EXAMPLE: dict[str, Any] = {
    "schema_version": 1, "status": "rejected", "source_system": "harbor-cases",
    "message_id": "harbor-cases-000212", "message_type": "referral.rejected",
    "correlation_id": "corr-housing-2026-11", "duplicate": False, "event_ids": [],
    "reason": "schema_violation",
    "problems": [{"code": "schema_violation", "field": "payload.reason", "rule": "missing",
                  "message": "payload.reason: Field required"}],
    "summary": "rejected: payload.reason: Field required", "inbound_sequence": 212,
    "processed_at": "2026-11-04T15:30:01.204Z",
}


class Problem(BaseModel):
    """One reason a message was rejected."""

    code: str = Field(description="Machine-readable reason, e.g. 'schema_violation'.")
    field: str | None = Field(default=None, description="Dotted path of the offending field.")
    rule: str = Field(description="The rule broken, e.g. 'missing' or 'invalid_referral_transition'.")
    message: str = Field(description="A sentence a person can act on.")


class Receipt(BaseModel):
    """careloop's answer to one inbound message: accepted with its events, or rejected with
    machine-readable problems."""

    model_config = ConfigDict(json_schema_extra={"examples": [dict(RECEIPT_EXAMPLE)]})

    schema_version: Literal[1] = Field(default=1, description="Receipt format version.")
    status: Literal["accepted", "rejected"] = Field(
        description="accepted: stored (or already stored); rejected: nothing was stored.")
    source_system: str = Field(description="The system that sent the message.")
    message_id: str | None = Field(description="The message's idempotency key, when readable.")
    message_type: str | None = Field(
        description="The native message type applied (a FHIR message is named by the native "
                    "message it was translated to), when readable.")
    correlation_id: str | None = Field(description="The message's correlation id, echoed.")
    duplicate: bool = Field(
        default=False, description="True when this message_id was already processed; nothing new stored."
    )
    event_ids: list[str] = Field(default_factory=list, description="Events stored for this message.")
    reason: str | None = Field(default=None, description="Machine-readable reason when rejected.")
    problems: list[Problem] = Field(default_factory=list,
                                    description="Each fault: code, field, rule and message.")
    summary: str = Field(description="One human sentence: what happened.")
    inbound_sequence: int | None = Field(
        default=None, description="Sequence of the message in careloop's inbound stream."
    )
    processed_at: datetime = Field(description="When careloop answered (UTC).")
