"""What every area's command handlers share: the handler shape and loading rules."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, date, datetime
from typing import Any, TypeVar
from uuid import UUID

from eventsourcing.domain import Aggregate

from domain.care_plan import CarePlan
from domain.client import Client
from domain.errors import ClientDischarged, ClientNotRegistered, DomainError
from domain.provenance import Provenance
from services.store.care_app import CareLoop

Handler = Callable[[CareLoop, Any, Provenance], list[Aggregate]]
"""Loads aggregates, calls the domain, returns every aggregate it changed (saved together)."""

A = TypeVar("A", bound=Aggregate)


def recording_date() -> date:
    """Today in UTC: the day careloop records a fact (its business date may be earlier)."""
    return datetime.now(UTC).date()


def load(app: CareLoop, aggregate_id: UUID, kind: type[A], missing: DomainError) -> A:
    found = app.find(aggregate_id, kind)
    if found is None:
        raise missing
    return found


def registered_client(app: CareLoop, client_id: UUID, field: str = "payload.client_id") -> Client:
    return load(app, client_id, Client, ClientNotRegistered(
        f"client {client_id} is not registered; send client.registered first", field=field))


def require_open(client: Client, field: str = "payload.client_id") -> Client:
    if client.discharged:
        raise ClientDischarged(f"client {client.id} was discharged; no new facts may be added",
                               field=field)
    return client


def active_client(app: CareLoop, client_id: UUID, field: str = "payload.client_id",
                  authority: Callable[[Client], None] = lambda client: None) -> Client:
    """The registered, not discharged client: most facts may only be added to such a one.
    ``authority`` is checked before the discharge, so an organisation without a relationship
    to the client does not learn whether they were discharged."""
    client = registered_client(app, client_id, field)
    authority(client)
    return require_open(client, field)


P = TypeVar("P", bound=Aggregate)


def per_client(app: CareLoop, kind: type[P], client_id: UUID, provenance: Provenance) -> P:
    """The client's aggregate of that kind, started (new, unsaved) on first use."""
    found = app.find(kind.id_for(client_id), kind)  # type: ignore[attr-defined]
    return found or kind.start(client_id, provenance)  # type: ignore[attr-defined]


def care_plan_of(app: CareLoop, client_id: UUID, provenance: Provenance) -> CarePlan:
    return per_client(app, CarePlan, client_id, provenance)


Authority = Callable[[Client, Provenance], None]
"""A rule of ``domain.authority`` about who may assert this fact, checked before the step."""


def per_client_step(kind: type[P], step: Callable[[P, Any, Provenance], None],
                    authority: Authority) -> Handler:
    """A handler for a message about one registered, active client's ``kind`` aggregate."""

    def handle(app: CareLoop, m: Any, p: Provenance) -> list[Aggregate]:
        active_client(app, m.payload.client_id, authority=lambda client: authority(client, p))
        target = per_client(app, kind, m.payload.client_id, p)
        step(target, m.payload, p)
        return [target]

    return handle
