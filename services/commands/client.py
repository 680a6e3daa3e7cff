"""Client, care-team and consent messages → Client aggregate."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from eventsourcing.domain import Aggregate

from contracts.v1 import client_messages as cm
from domain.client import Client
from domain.errors import ClientAlreadyRegistered, ClientNotRegistered
from domain.provenance import Provenance
from services.commands.support import Handler, active_client, load
from services.store.care_app import CareLoop


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


def _client_step(step: Callable[[Client, Any, Provenance], None], open_only: bool = True) -> Handler:
    def handle(app: CareLoop, m: Any, p: Provenance) -> list[Aggregate]:
        cid = m.payload.client_id
        client = active_client(app, cid) if open_only else load(
            app, cid, Client, ClientNotRegistered(f"client {cid} is not registered",
                                                  field="payload.client_id"))
        step(client, m.payload, p)
        return [client]

    return handle


HANDLERS: dict[str, Handler] = {
    "client.registered": _register_client,
    "client.demographics_updated": _client_step(
        lambda c, pl, p: c.update_demographics(pl.given_name, pl.family_name, pl.birth_date,
                                               pl.preferred_language, p)),
    "client.contact_updated": _client_step(
        lambda c, pl, p: c.update_contact(pl.address, pl.phone, pl.safe_contact_method,
                                          pl.may_leave_messages, pl.address_confidential, p)),
    "client.discharged": _client_step(
        lambda c, pl, p: c.discharge(pl.reason, pl.discharge_date, p)),
    "care_team.member_added": _client_step(
        lambda c, pl, p: c.add_team_member(pl.member_id, pl.role, pl.organisation,
                                           pl.period_start, pl.period_end, p)),
    # Ending memberships and revoking consent stay possible after discharge.
    "care_team.member_ended": _client_step(
        lambda c, pl, p: c.end_team_membership(pl.member_id, pl.period_end, p), open_only=False),
    "consent.recorded": _client_step(
        lambda c, pl, p: c.record_consent(pl.consent_id, pl.status, pl.provision,
                                          list(pl.recipient_roles),
                                          list(pl.recipient_organisations), list(pl.purposes),
                                          list(pl.data_categories), pl.period_start,
                                          pl.period_end, pl.part2, p)),
    "consent.activated": _client_step(
        lambda c, pl, p: c.change_consent_status(pl.consent_id, "active", pl.reason, p)),
    "consent.revoked": _client_step(
        lambda c, pl, p: c.change_consent_status(pl.consent_id, "inactive", pl.reason, p),
        open_only=False),
    "consent.entered_in_error": _client_step(
        lambda c, pl, p: c.change_consent_status(pl.consent_id, "entered-in-error", pl.reason, p),
        open_only=False),
}
