"""The outbound event careloop publishes under ``careloop.events.>`` for each stored event."""

from __future__ import annotations

from datetime import datetime
from hashlib import sha1
from typing import Any
from uuid import NAMESPACE_URL, UUID, uuid5

from pydantic import BaseModel, ConfigDict, Field

EVENT_ID_NAMESPACE = uuid5(NAMESPACE_URL, "https://careloop.invalid/events")


_NAMESPACE_BYTES = EVENT_ID_NAMESPACE.bytes


def event_id(aggregate_id: UUID | str, version: int) -> str:
    """A stable id for the event at ``version`` of ``aggregate_id`` (same on every replay):
    ``str(uuid5(EVENT_ID_NAMESPACE, f"{aggregate_id}:{version}"))``, spelled out so that
    no ``UUID`` object is built for it (ingest and every replay ask for each event). A
    string ``aggregate_id`` must be the UUID's canonical form (``str(uuid)``)."""
    h = bytearray(sha1(_NAMESPACE_BYTES + f"{aggregate_id}:{version}".encode()).digest()[:16])
    h[6] = (h[6] & 0x0F) | 0x50  # version 5
    h[8] = (h[8] & 0x3F) | 0x80  # RFC 4122 variant
    x = h.hex()
    return f"{x[:8]}-{x[8:12]}-{x[12:16]}-{x[16:20]}-{x[20:]}"


EVENT_EXAMPLE: dict[str, Any] = {
    "schema_version": 1, "event_id": "0f6b1c9e-3a57-5d2e-9c41-7e8a2b6d4f10",
    "event_type": "referral.accepted", "position": 42, "aggregate_type": "referral",
    "aggregate_id": "8c1d2e3f-4a5b-4c6d-8e7f-9a0b1c2d3e4f", "aggregate_version": 2,
    "client_id": "5f0c9a8e-2d4b-4c1e-9a3f-7b6d2e1c0a11",
    "actor": {"id": "ha-207", "role": "housing-advocate", "organisation": "harbor-housing"},
    "occurred_at": "2026-11-04T10:30:00-05:00", "recorded_at": "2026-11-04T15:30:01.118Z",
    "source_system": "harbor-cases", "message_id": "harbor-cases-000211",
    "correlation_id": "corr-housing-2026-11",
    "data": {"referral_id": "8c1d2e3f-4a5b-4c6d-8e7f-9a0b1c2d3e4f", "owner": "ha-207"},
}


class ActorOut(BaseModel):
    """The person who acted, as the sender named them."""

    id: str = Field(description="The person's id in the sender's system.")
    role: str = Field(description="The role they acted in.")
    organisation: str = Field(description="The organisation they acted for.")


class OutboundEvent(BaseModel):
    """One stored domain event, as published on careloop.events.<aggregate>.<event>."""

    model_config = ConfigDict(json_schema_extra={"examples": [EVENT_EXAMPLE]})

    schema_version: int = Field(default=1, description="Event format version.")
    event_id: str = Field(description="Stable id of the event (same on every replay).")
    event_type: str = Field(description="e.g. 'referral.accepted'.")
    position: int = Field(
        description="The event's position in careloop's store: strictly increasing in "
        "publication order, with gaps (internal bookkeeping takes positions too, and a "
        "PostgreSQL transaction that fails leaves its numbers unused).")
    aggregate_type: str = Field(description="e.g. 'referral', 'client', 'care_plan'.")
    aggregate_id: UUID = Field(description="The aggregate (referral, care plan, ...) changed.")
    aggregate_version: int = Field(description="The aggregate's version after this event.")
    client_id: UUID | None = Field(description="The client the event concerns.")
    actor: ActorOut = Field(description="Who acted.")
    occurred_at: datetime = Field(description="Business time reported by the sender.")
    recorded_at: datetime = Field(description="When careloop stored the event.")
    source_system: str = Field(description="The system whose message caused the event.")
    message_id: str = Field(description="That message's idempotency key.")
    correlation_id: str = Field(description="That message's correlation id.")
    data: dict[str, Any] = Field(description="The event's own facts.")
