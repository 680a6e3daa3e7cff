"""Who may assert what, tried over NATS by the partner systems themselves (both stores).

A client is registered by riverside-ehr (riverside-cmhc is the custodian) with harbor-housing's
ha-207 on the care team. Each hostile or careless message gets a rejected receipt naming its
rule, and the store's head does not move.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import pytest

from contracts.v1.receipts import Receipt
from services.partners.client import PartnerClient
from services.runtime import Runtime
from tests.helpers import message

Partner = Callable[[str], Awaitable[PartnerClient]]
HOUSING = {"id": "ha-207", "role": "housing-advocate", "organisation": "harbor-housing"}
PSYCHIATRIST = {"id": "psy-77", "role": "psychiatrist", "organisation": "riverside-psych"}


@pytest.fixture
async def partner(runtime: Runtime) -> AsyncIterator[Partner]:
    clients: list[PartnerClient] = []

    async def connect(source: str) -> PartnerClient:
        clients.append(
            await PartnerClient.connect(runtime.nats_url, source, runtime.settings.stream_inbound)
        )
        return clients[-1]

    yield connect
    for client in clients:
        await client.close()


def as_(actor: dict[str, str], message_type: str, **payload: Any) -> dict[str, Any]:
    doc = message(message_type, **payload)
    doc["actor"] = actor
    return doc


async def head(runtime: Runtime) -> int:
    assert runtime.app is not None
    return await asyncio.to_thread(runtime.app.head_position)


async def rejected(runtime: Runtime, sender: PartnerClient, doc: dict[str, Any],
                   code: str) -> Receipt:
    before = await head(runtime)
    receipt = await sender.post({**doc, "source_system": sender.source_system})
    assert (receipt.status, receipt.reason) == ("rejected", code), receipt.summary
    assert receipt.problems[0].rule and receipt.problems[0].message
    assert receipt.event_ids == []
    assert await head(runtime) == before  # nothing stored
    return receipt


async def accepted(sender: PartnerClient, doc: dict[str, Any]) -> Receipt:
    receipt = await sender.post({**doc, "source_system": sender.source_system})
    assert receipt.status == "accepted", receipt.summary
    return receipt


async def test_hostile_and_careless_partners_are_refused_and_nothing_is_stored(
        runtime: Runtime, partner: Partner) -> None:
    ehr, housing = await partner("riverside-ehr"), await partner("harbor-cases")
    psych = await partner("psych-ehr")
    await accepted(ehr, message("client.registered"))
    await accepted(ehr, message("care_team.member_added"))  # ha-207 of harbor-housing

    # finding 1: the housing agency adds its own staff, and records a Part 2 consent
    r = await rejected(runtime, housing, as_(HOUSING, "care_team.member_added",
                                             member_id="ha-208"),
                       "care_team_change_not_authorised")
    assert r.problems[0].rule == "care_team_kept_by_custodian"
    await rejected(runtime, housing, as_(
        HOUSING, "consent.recorded", consent_id=str(uuid.uuid4()), part2=True,
        data_categories=["substance-use"], recipient_organisations=["harbor-housing"]),
        "consent_recorder_not_authorised")

    # registration facts are the custodian's
    await rejected(runtime, housing, as_(HOUSING, "client.demographics_updated"),
                   "not_custodian")
    await rejected(runtime, housing, as_(HOUSING, "client.discharged"), "not_custodian")

    # clinical data: only clinicians of an organisation on the team
    await rejected(runtime, psych, as_(PSYCHIATRIST, "diagnosis.recorded"),
                   "organisation_not_on_care_team")
    await rejected(runtime, housing, as_(HOUSING, "screening.recorded"), "clinician_required")
    await accepted(ehr, message("care_team.member_added", member_id="psy-77",
                                role="psychiatrist", organisation="riverside-psych"))
    await accepted(psych, as_(PSYCHIATRIST, "diagnosis.recorded"))

    # an organisation ends its own member, never another's
    await rejected(runtime, housing, as_(HOUSING, "care_team.member_ended", member_id="psy-77"),
                   "care_team_change_not_authorised")
    await accepted(housing, as_(HOUSING, "care_team.member_ended"))


async def test_unknown_systems_forged_actors_and_non_recipients_are_refused(
        runtime: Runtime, partner: Partner) -> None:
    ehr, housing = await partner("riverside-ehr"), await partner("harbor-cases")
    county = await partner("county-cases")
    rogue = await partner("rogue-cases")
    await accepted(ehr, message("client.registered"))
    await accepted(ehr, message("consent.recorded"))
    rid = str(uuid.uuid4())
    await accepted(ehr, message("referral.made", referral_id=rid))

    r = await rejected(runtime, rogue, as_(HOUSING, "referral.accepted",
                                           referral_id=rid), "unknown_source_system")
    assert r.problems[0].field == "source_system"
    # county-cases speaks for county-benefits only: it cannot act as harbor-housing ...
    await rejected(runtime, county, as_(HOUSING, "referral.accepted",
                                        referral_id=rid), "actor_not_of_system")
    # ... and as itself it is not the referral's recipient
    benefits = {"id": "ba-3", "role": "benefits-advocate", "organisation": "county-benefits"}
    await rejected(runtime, county, as_(benefits, "referral.accepted",
                                        referral_id=rid), "not_referral_party")
    await accepted(housing, message("referral.accepted", referral_id=rid))
