"""The outbound event careloop publishes under ``careloop.events.>`` for each stored event."""

from __future__ import annotations

from datetime import datetime
from typing import Any
from uuid import NAMESPACE_URL, UUID, uuid5

from pydantic import BaseModel, Field

EVENT_ID_NAMESPACE = uuid5(NAMESPACE_URL, "https://careloop.invalid/events")


def event_id(aggregate_id: UUID, version: int) -> str:
    """A stable id for the event at ``version`` of ``aggregate_id`` (same on every replay)."""
    return str(uuid5(EVENT_ID_NAMESPACE, f"{aggregate_id}:{version}"))


class ActorOut(BaseModel):
    id: str
    role: str
    organisation: str


class OutboundEvent(BaseModel):
    schema_version: int = 1
    event_id: str
    event_type: str = Field(description="e.g. 'referral.accepted'.")
    position: int = Field(
        description="The event's position in careloop's store: strictly increasing in "
        "publication order, with gaps (internal bookkeeping takes positions too, and a "
        "PostgreSQL transaction that fails leaves its numbers unused).")
    aggregate_type: str
    aggregate_id: UUID
    aggregate_version: int
    client_id: UUID | None = Field(description="The client the event concerns.")
    actor: ActorOut
    occurred_at: datetime = Field(description="Business time reported by the sender.")
    recorded_at: datetime = Field(description="When careloop stored the event.")
    source_system: str
    message_id: str
    correlation_id: str
    data: dict[str, Any] = Field(description="The event's own facts.")
