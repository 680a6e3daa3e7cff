"""Client, care-team and consent messages → Client aggregate."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from eventsourcing.domain import Aggregate

from contracts.v1 import client_messages as cm
from domain import authority
from domain.client import Client
from domain.clinical_record import ClinicalRecord
from domain.consent_evidence import Evidence, check_evidence
from domain.errors import ClientAlreadyRegistered
from domain.provenance import Provenance
from services.commands.support import Handler, registered_client, require_open
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


Check = Callable[[CareLoop, Client, Any, Provenance], None]
"""An authority rule, run before the domain step: refusals store nothing."""


def _client_step(step: Callable[[Client, Any, Provenance], None], check: Check,
                 open_only: bool = True) -> Handler:
    def handle(app: CareLoop, m: Any, p: Provenance) -> list[Aggregate]:
        client = registered_client(app, m.payload.client_id)
        check(app, client, m, p)  # before the discharge: no news for the unrelated
        step(require_open(client) if open_only else client, m.payload, p)
        return [client]

    return handle


def _custodian(what: str) -> Check:
    return lambda app, c, m, p: authority.require_custodian(c, p, what)


def _keeper(app: CareLoop, c: Client, m: Any, p: Provenance) -> None:
    authority.require_team_keeper(c, p)


def _ender(app: CareLoop, c: Client, m: Any, p: Provenance) -> None:
    authority.require_may_end_membership(c, m.payload.member_id, p)


def _evidence(value: Any) -> Evidence | None:
    return None if value is None else {k: v if v is None else str(v)
                                       for k, v in value.model_dump(mode="json").items()}


def _consent_recorder(app: CareLoop, c: Client, m: cm.ConsentRecorded, p: Provenance) -> None:
    pl = m.payload
    record = app.find(ClinicalRecord.id_for(c.id), ClinicalRecord) if pl.part2 else None
    authority.require_consent_recorder(
        c, p, pl.part2, record.part2_programmes() if record is not None else set())
    check_evidence(_evidence(pl.evidence), pl.status, p.occurred_at)


def _consent_keeper(app: CareLoop, c: Client, m: Any, p: Provenance) -> None:
    consent = c.consents.get(m.payload.consent_id)
    authority.require_consent_keeper(c, p, consent.recorded_by if consent else c.custodian)


def _activation(app: CareLoop, c: Client, m: cm.ConsentActivated, p: Provenance) -> None:
    _consent_keeper(app, c, m, p)
    consent = c.consents.get(m.payload.consent_id)
    if consent is None:
        return  # the domain names the unknown consent
    given = _evidence(m.payload.evidence)
    check_evidence(given if given is not None else consent.evidence,
                   "active", p.occurred_at)


HANDLERS: dict[str, Handler] = {
    "client.registered": _register_client,
    "client.demographics_updated": _client_step(
        lambda c, pl, p: c.update_demographics(pl.given_name, pl.family_name, pl.birth_date,
                                               pl.preferred_language, p),
        _custodian("update the client's demographics")),
    "client.contact_updated": _client_step(
        lambda c, pl, p: c.update_contact(pl.address, pl.phone, pl.safe_contact_method,
                                          pl.may_leave_messages, pl.address_confidential, p),
        _custodian("update the client's contact details")),
    "client.discharged": _client_step(
        lambda c, pl, p: c.discharge(pl.reason, pl.discharge_date, p),
        _custodian("discharge the client")),
    "care_team.member_added": _client_step(
        lambda c, pl, p: c.add_team_member(pl.member_id, pl.role, pl.organisation,
                                           pl.period_start, pl.period_end, p), _keeper),
    # Ending memberships and revoking consent stay possible after discharge.
    "care_team.member_ended": _client_step(
        lambda c, pl, p: c.end_team_membership(pl.member_id, pl.period_end, p), _ender,
        open_only=False),
    "consent.recorded": _client_step(
        lambda c, pl, p: c.record_consent(pl.consent_id, pl.status, pl.provision,
                                          list(pl.recipient_roles),
                                          list(pl.recipient_organisations), list(pl.purposes),
                                          list(pl.data_categories), pl.period_start,
                                          pl.period_end, pl.part2, p,
                                          evidence=_evidence(pl.evidence)),
        _consent_recorder),
    "consent.activated": _client_step(
        lambda c, pl, p: c.change_consent_status(pl.consent_id, "active", pl.reason, p,
                                                 evidence=_evidence(pl.evidence)),
        _activation),
    "consent.revoked": _client_step(
        lambda c, pl, p: c.change_consent_status(pl.consent_id, "inactive", pl.reason, p),
        _consent_keeper, open_only=False),
    "consent.entered_in_error": _client_step(
        lambda c, pl, p: c.change_consent_status(pl.consent_id, "entered-in-error", pl.reason, p),
        _consent_keeper, open_only=False),
}
