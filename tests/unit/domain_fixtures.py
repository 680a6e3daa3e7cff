"""Actors and clients for domain tests (no infrastructure)."""

from __future__ import annotations

import uuid
from datetime import UTC, date, datetime

from domain.client import Client
from domain.provenance import Actor, Provenance


def by(org: str = "riverside", role: str = "clinical-social-worker",
       on: datetime = datetime(2026, 11, 20, 9, 0, tzinfo=UTC)) -> Provenance:
    return Provenance(actor=Actor(id=f"{org}-{role}", role=role, organisation=org),
                      occurred_at=on, source_system=f"{org}-system",
                      message_id=str(uuid.uuid4()), correlation_id="c")


SOCIAL_WORKER = by()
COORDINATOR = by(role="coordinator")


def registered_client() -> Client:
    return Client.register(uuid.uuid4(), "Ada", "Lovelace", date(1980, 1, 1), "en", SOCIAL_WORKER)


def consent(client: Client, *, provision: str = "permit", categories: tuple[str, ...] = ("housing",),
            roles: tuple[str, ...] = ("housing-advocate",), orgs: tuple[str, ...] = (),
            start: date = date(2026, 11, 1), end: date | None = None, part2: bool = False,
            status: str = "active") -> uuid.UUID:
    consent_id = uuid.uuid4()
    client.record_consent(consent_id, status, provision, list(roles), list(orgs),
                          ["care-coordination"], list(categories), start, end, part2,
                          SOCIAL_WORKER)
    return consent_id
