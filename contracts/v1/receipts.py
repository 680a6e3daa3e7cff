"""What careloop answers, on ``careloop.receipts.<source-system>``, for every inbound message."""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import BaseModel, Field


class Problem(BaseModel):
    code: str = Field(description="Machine-readable reason, e.g. 'schema_violation'.")
    field: str | None = Field(default=None, description="Dotted path of the offending field.")
    rule: str = Field(description="The rule broken, e.g. 'missing' or 'invalid_referral_transition'.")
    message: str = Field(description="A sentence a person can act on.")


class Receipt(BaseModel):
    schema_version: Literal[1] = 1
    status: Literal["accepted", "rejected"]
    source_system: str
    message_id: str | None = Field(description="The message's idempotency key, when readable.")
    message_type: str | None
    correlation_id: str | None
    duplicate: bool = Field(
        default=False, description="True when this message_id was already processed; nothing new stored."
    )
    event_ids: list[str] = Field(default_factory=list, description="Events stored for this message.")
    reason: str | None = Field(default=None, description="Machine-readable reason when rejected.")
    problems: list[Problem] = Field(default_factory=list)
    summary: str = Field(description="One human sentence: what happened.")
    inbound_sequence: int | None = Field(
        default=None, description="Sequence of the message in careloop's inbound stream."
    )
    processed_at: datetime
