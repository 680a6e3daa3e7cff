"""The envelope every inbound message travels in, whatever fact it reports."""

from __future__ import annotations

from typing import Literal

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field

SCHEMA_VERSION = 1

Role = Literal[
    "clinical-social-worker",
    "psychiatrist",
    "housing-advocate",
    "benefits-advocate",
    "coordinator",
]

TOKEN = r"^[a-z0-9][a-z0-9-]{0,62}$"
"""A NATS subject token we accept for source systems: lower case, digits, dashes."""


class Strict(BaseModel):
    """Unknown fields are refused: a typo must not silently drop clinical data."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)


class ActorRef(Strict):
    id: str = Field(min_length=1, max_length=128, description="The person's id in the sender's system.")
    role: Role = Field(description="The role the person acted in.")
    organisation: str = Field(
        min_length=1, max_length=128, description="The organisation the person acted for."
    )


class Envelope(Strict):
    """Fields common to all inbound messages; subclasses fix ``message_type`` and ``payload``."""

    schema_version: Literal[1] = Field(description="Contract version; careloop v1 accepts 1.")
    message_id: str = Field(
        min_length=1,
        max_length=128,
        pattern=r"^[A-Za-z0-9._:-]+$",
        description="Idempotency key, unique per source system: a redelivery with the same "
        "id yields the same receipt and no new events.",
    )
    message_type: str = Field(description="The fact reported, e.g. 'referral.made'.")
    source_system: str = Field(
        pattern=TOKEN, description="The sending system; must match the subject it was sent on."
    )
    actor: ActorRef
    occurred_at: AwareDatetime = Field(
        description="When it happened in the sender's world (business time), with offset."
    )
    correlation_id: str = Field(
        min_length=1,
        max_length=128,
        pattern=r"^[A-Za-z0-9._:-]+$",
        description="Ties together messages of one piece of work; echoed on receipts and events.",
    )
