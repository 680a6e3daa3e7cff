"""The one place inbound contracts become domain calls (contracts never reach the domain)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any
from uuid import UUID

from eventsourcing.domain import Aggregate

from contracts.v1 import client_messages as cm
from contracts.v1 import referral_messages as rm
from contracts.v1.envelope import Envelope
from domain.client import Client
from domain.errors import (
    ClientAlreadyRegistered,
    ClientNotRegistered,
    ReferralAlreadyExists,
    ReferralNotFound,
)
from domain.provenance import Actor, Provenance
from domain.referral import Referral
from services.care_app import CareLoop, Outcome

Handler = Callable[[CareLoop, Any, Provenance], list[Aggregate]]


def provenance_of(message: Envelope) -> Provenance:
    a = message.actor
    return Provenance(
        actor=Actor(id=a.id, role=a.role, organisation=a.organisation),
        occurred_at=message.occurred_at,
        source_system=message.source_system,
        message_id=message.message_id,
        correlation_id=message.correlation_id,
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
    referral = app.find(referral_id, Referral) if isinstance(referral_id, UUID) else None
    return referral.client_id if referral else None


def _register_client(app: CareLoop, m: cm.ClientRegistered, p: Provenance) -> list[Aggregate]:
    pl = m.payload
    if app.exists(pl.client_id):
        raise ClientAlreadyRegistered(
            f"client {pl.client_id} is already registered", field="payload.client_id"
        )
    return [
        Client.register(
            pl.client_id, pl.given_name, pl.family_name, pl.birth_date, pl.preferred_language, p
        )
    ]


def _make_referral(app: CareLoop, m: rm.ReferralMade, p: Provenance) -> list[Aggregate]:
    pl = m.payload
    if app.find(pl.client_id, Client) is None:
        raise ClientNotRegistered(
            f"client {pl.client_id} is not registered; send client.registered first",
            field="payload.client_id",
        )
    if app.exists(pl.referral_id):
        raise ReferralAlreadyExists(
            f"referral {pl.referral_id} already exists; a new referral needs a new id",
            field="payload.referral_id",
        )
    return [
        Referral.make(
            pl.referral_id, pl.client_id, pl.to_service, pl.to_organisation, pl.reason,
            pl.priority, p,
        )
    ]


def _referral_step(step: Callable[[Referral, Any, Provenance], None]) -> Handler:
    def handle(app: CareLoop, m: Any, p: Provenance) -> list[Aggregate]:
        referral = app.find(m.payload.referral_id, Referral)
        if referral is None:
            raise ReferralNotFound(
                f"no referral {m.payload.referral_id}", field="payload.referral_id"
            )
        step(referral, m.payload, p)
        return [referral]

    return handle


HANDLERS: dict[str, Handler] = {
    "client.registered": _register_client,
    "referral.made": _make_referral,
    "referral.received": _referral_step(lambda r, pl, p: r.receive(p)),
    "referral.accepted": _referral_step(lambda r, pl, p: r.accept(pl.owner, p)),
    "referral.rejected": _referral_step(lambda r, pl, p: r.reject(pl.reason, p)),
    "referral.started": _referral_step(lambda r, pl, p: r.start(p)),
    "referral.put_on_hold": _referral_step(lambda r, pl, p: r.put_on_hold(pl.reason, p)),
    "referral.completed": _referral_step(lambda r, pl, p: r.complete(pl.outcome, pl.note, p)),
    "referral.failed": _referral_step(lambda r, pl, p: r.fail(pl.reason, p)),
    "referral.cancelled": _referral_step(lambda r, pl, p: r.cancel(pl.reason, p)),
    "referral.entered_in_error": _referral_step(
        lambda r, pl, p: r.mark_entered_in_error(pl.reason, p)
    ),
    "referral.outcome_acknowledged": _referral_step(
        lambda r, pl, p: r.acknowledge_outcome(pl.note, p)
    ),
}
