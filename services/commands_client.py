"""Client messages → Client aggregate."""

from __future__ import annotations

from eventsourcing.domain import Aggregate

from contracts.v1 import client_messages as cm
from domain.client import Client
from domain.errors import ClientAlreadyRegistered
from domain.provenance import Provenance
from services.care_app import CareLoop
from services.command_support import Handler


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


HANDLERS: dict[str, Handler] = {
    "client.registered": _register_client,
}
