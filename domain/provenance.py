"""Who acted, for whom, and when: recorded on every event from the inbound message."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime


@dataclass(frozen=True)
class Actor:
    """The person who acted: id in their own system, their role and organisation."""

    id: str
    role: str
    organisation: str


@dataclass(frozen=True)
class Provenance:
    """Why an event exists: the actor, the business time and the message that reported it.

    ``occurred_at`` is when it happened in the sender's world; the time careloop recorded
    it is the event's own ``timestamp``. Keeping both lets auditors tell them apart.
    """

    actor: Actor
    occurred_at: datetime
    source_system: str
    message_id: str
    correlation_id: str
    trace_context: str | None = None
    """The W3C ``traceparent`` the message arrived under (operators follow a message through
    careloop with it); no business meaning, absent from older events."""
