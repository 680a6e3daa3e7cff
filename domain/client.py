"""The client: a person served by the team, whose care plan everything else hangs on."""

from __future__ import annotations

from datetime import date
from uuid import UUID

from eventsourcing.domain import Aggregate, event

from domain.provenance import Provenance


class Client(Aggregate):
    """Registration only, for now; needs, goals, consents and risk attach here later."""

    @event("Registered")
    def __init__(
        self,
        id: UUID,
        given_name: str,
        family_name: str,
        birth_date: date,
        preferred_language: str | None,
        provenance: Provenance,
    ) -> None:
        self.given_name = given_name
        self.family_name = family_name
        self.birth_date = birth_date
        self.preferred_language = preferred_language
        self.registered_by = provenance.actor
        self.discharged = False

    @classmethod
    def register(
        cls,
        client_id: UUID,
        given_name: str,
        family_name: str,
        birth_date: date,
        preferred_language: str | None,
        provenance: Provenance,
    ) -> Client:
        return cls(
            id=client_id,
            given_name=given_name,
            family_name=family_name,
            birth_date=birth_date,
            preferred_language=preferred_language,
            provenance=provenance,
        )
