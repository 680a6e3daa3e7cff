"""The one place stored domain events become public ``careloop.events.>`` messages."""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any
from uuid import UUID

from eventsourcing.domain import DomainEventProtocol
from pydantic_core import to_jsonable_python

from contracts.v1.events import ActorOut, OutboundEvent, event_id
from domain.provenance import Actor, Provenance

PUBLISHED_MODULES = ("domain.",)
"""Only domain events leave careloop; the message ledger is internal bookkeeping."""

_ENVELOPE_FIELDS = {"originator_id", "originator_version", "timestamp", "originator_topic", "id",
                    "provenance"}


def is_published(topic: str) -> bool:
    return topic.startswith(PUBLISHED_MODULES)


def _snake(name: str) -> str:
    return re.sub(r"(?<!^)(?=[A-Z])", "_", name).lower()


def event_type_of(event: DomainEventProtocol[Any]) -> tuple[str, str]:
    """('referral', 'outcome_acknowledged') for ``Referral.OutcomeAcknowledged``."""
    aggregate, _, name = type(event).__qualname__.partition(".")
    return _snake(aggregate), _snake(name)


def to_outbound(
    event: DomainEventProtocol[Any], position: int, client_of: Callable[[UUID], UUID | None]
) -> OutboundEvent:
    aggregate, name = event_type_of(event)
    provenance = provenance_of(event)
    data = {k: v for k, v in vars(event).items() if k not in _ENVELOPE_FIELDS}
    client_id = event.originator_id if aggregate == "client" else data.get("client_id")
    if client_id is None:
        client_id = client_of(event.originator_id)
    return OutboundEvent(
        event_id=event_id(event.originator_id, event.originator_version),
        event_type=f"{aggregate}.{name}",
        position=position,
        aggregate_type=aggregate,
        aggregate_id=event.originator_id,
        aggregate_version=event.originator_version,
        client_id=client_id,
        actor=ActorOut(**vars(provenance.actor)),
        occurred_at=provenance.occurred_at,
        recorded_at=event.timestamp,  # type: ignore[attr-defined]
        source_system=provenance.source_system,
        message_id=provenance.message_id,
        correlation_id=provenance.correlation_id,
        data=to_jsonable_python(data),
    )


def provenance_of(event: DomainEventProtocol[Any]) -> Provenance:
    """Who acted. A ``Disclosure`` records a read, not a team system's message: its reader
    is the actor and the read time its business time."""
    found = getattr(event, "provenance", None)
    if isinstance(found, Provenance):
        return found
    e: Any = event
    return Provenance(
        actor=Actor(id=e.viewer_id, role=e.viewer_role, organisation=e.viewer_organisation),
        occurred_at=e.read_at, source_system=f"careloop-{e.channel}",
        message_id=str(e.originator_id), correlation_id=str(e.originator_id),
    )


def subject_of(root: str, outbound: OutboundEvent) -> str:
    """``careloop.events.<aggregate>.<event>``: no client data in subjects."""
    return f"{root}.{outbound.event_type}"
