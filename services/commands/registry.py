"""Applies one validated inbound message: the registry of every area's handlers.

Each area keeps its own translation module (``commands_<area>.py``), so contracts never
reach the domain and no module grows past one idea.
"""

from __future__ import annotations

from typing import Any
from uuid import UUID

from eventsourcing.domain import Aggregate

from contracts.v1.envelope import Envelope
from domain.provenance import Actor, Provenance
from services.commands import care_plan, client, clinical, conference, referral
from services.commands.support import Handler
from services.observability.tracing import trace_context_for
from services.store.care_app import CareLoop, Outcome

HANDLERS: dict[str, Handler] = {
    **client.HANDLERS,
    **referral.HANDLERS,
    **care_plan.HANDLERS,
    **clinical.HANDLERS,
    **conference.HANDLERS,
}


def provenance_of(message: Envelope) -> Provenance:
    a = message.actor
    return Provenance(
        actor=Actor(id=a.id, role=a.role, organisation=a.organisation),
        occurred_at=message.occurred_at,
        source_system=message.source_system,
        message_id=message.message_id,
        correlation_id=message.correlation_id,
        trace_context=trace_context_for(message.source_system, message.message_id),
    )


def execute(app: CareLoop, message: Envelope) -> Outcome:
    """Apply one validated message; a message_id seen before returns its first outcome."""
    prior = app.processed(message.source_system, message.message_id)
    if prior is not None:
        return Outcome(list(prior.event_ids), duplicate=True)
    provenance = provenance_of(message)
    changed = HANDLERS[message.message_type](app, message, provenance)
    return app.record(provenance, message.message_type, changed)


def client_id_of(app: CareLoop, message: Envelope) -> UUID | None:
    """The client a message concerns (for log context), without loading more than needed."""
    payload: Any = getattr(message, "payload", None)
    if isinstance(getattr(payload, "client_id", None), UUID):
        return payload.client_id  # type: ignore[no-any-return]
    referral_id = getattr(payload, "referral_id", None)
    if not isinstance(referral_id, UUID):
        return None
    found = app.find(referral_id, Aggregate)
    client_id = getattr(found, "client_id", None)
    return client_id if isinstance(client_id, UUID) else None
