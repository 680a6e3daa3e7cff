"""Referral messages → Referral aggregate.

The referrer is the custodian or on the client's care team; every later step is checked by
the referral itself against its two sides' organisations (the recipient acts only on its own).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from eventsourcing.domain import Aggregate

from contracts.v1 import referral_messages as rm
from domain import authority
from domain.errors import ReferralAlreadyExists, ReferralNotFound
from domain.provenance import Provenance
from domain.referral import Referral
from services.commands.support import Handler, active_client, load, recording_date
from services.store.care_app import CareLoop


def _make_referral(draft: bool) -> Handler:
    def handle(app: CareLoop, m: rm.ReferralMade, p: Provenance) -> list[Aggregate]:
        pl = m.payload
        client = active_client(app, pl.client_id, authority=lambda c: (
            authority.require_referrer_on_team(c, p, recording_date())))
        if app.exists(pl.referral_id):
            raise ReferralAlreadyExists(
                f"referral {pl.referral_id} already exists; a new referral needs a new id",
                field="payload.referral_id",
            )
        return [
            Referral.make(
                pl.referral_id, pl.client_id, pl.to_service, pl.to_organisation, pl.reason,
                pl.priority, p, client, draft=draft,
            )
        ]

    return handle


def _request_referral(app: CareLoop, m: rm.ReferralRequested, p: Provenance) -> list[Aggregate]:
    rid = m.payload.referral_id
    referral = load(app, rid, Referral,
                    ReferralNotFound(f"no referral {rid}", field="payload.referral_id"))
    # still the custodian or on the team when the draft is sent
    client = active_client(app, referral.client_id, authority=lambda c: (
        authority.require_referrer_on_team(c, p, recording_date())))
    referral.request(client, p)
    return [referral]


def _referral_step(step: Callable[[Referral, Any, Provenance], None]) -> Handler:
    def handle(app: CareLoop, m: Any, p: Provenance) -> list[Aggregate]:
        rid = m.payload.referral_id
        referral = load(app, rid, Referral,
                        ReferralNotFound(f"no referral {rid}", field="payload.referral_id"))
        step(referral, m.payload, p)
        return [referral]

    return handle


HANDLERS: dict[str, Handler] = {
    "referral.drafted": _make_referral(draft=True),
    "referral.requested": _request_referral,
    "referral.made": _make_referral(draft=False),
    "referral.received": _referral_step(lambda r, pl, p: r.receive(p)),
    "referral.accepted": _referral_step(lambda r, pl, p: r.accept(pl.owner, p)),
    "referral.rejected": _referral_step(lambda r, pl, p: r.reject(pl.reason, p)),
    "referral.started": _referral_step(lambda r, pl, p: r.start(p)),
    "referral.put_on_hold": _referral_step(lambda r, pl, p: r.put_on_hold(pl.reason, p)),
    "referral.interim_update_sent": _referral_step(
        lambda r, pl, p: r.send_interim_update(pl.note, p)),
    "referral.completed": _referral_step(lambda r, pl, p: r.complete(pl.outcome, pl.note, p)),
    "referral.failed": _referral_step(lambda r, pl, p: r.fail(pl.reason, p)),
    "referral.cancelled": _referral_step(lambda r, pl, p: r.cancel(pl.reason, p)),
    "referral.cancellation_requested": _referral_step(
        lambda r, pl, p: r.request_cancellation(pl.reason, p)),
    "referral.cancellation_confirmed": _referral_step(
        lambda r, pl, p: r.confirm_cancellation(p)),
    "referral.cancellation_declined": _referral_step(
        lambda r, pl, p: r.decline_cancellation(pl.reason, p)),
    "referral.entered_in_error": _referral_step(
        lambda r, pl, p: r.mark_entered_in_error(pl.reason, p)
    ),
    "referral.outcome_acknowledged": _referral_step(
        lambda r, pl, p: r.acknowledge_outcome(pl.note, p)
    ),
}
