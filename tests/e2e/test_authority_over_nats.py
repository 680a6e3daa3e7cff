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


@pytest.fixture
async def systems(runtime: Runtime, partner: Partner) -> dict[str, PartnerClient]:
    """riverside-ehr registers the client and puts harbor-housing's ha-207 on the team."""
    found = {name: await partner(name) for name in (
        "riverside-ehr", "harbor-cases", "psych-ehr", "county-cases")}
    await accepted(found["riverside-ehr"], message("client.registered"))
    await accepted(found["riverside-ehr"], message("care_team.member_added"))
    return found


async def test_a_housing_agency_cannot_add_its_own_staff_to_the_team(
        runtime: Runtime, systems: dict[str, PartnerClient]) -> None:
    r = await rejected(runtime, systems["harbor-cases"],
                       as_(HOUSING, "care_team.member_added", member_id="ha-208"),
                       "care_team_change_not_authorised")
    assert r.problems[0].rule == "care_team_kept_by_custodian"


async def test_a_housing_agency_cannot_record_a_part2_consent_naming_itself(
        runtime: Runtime, systems: dict[str, PartnerClient]) -> None:
    await rejected(runtime, systems["harbor-cases"], as_(
        HOUSING, "consent.recorded", consent_id=str(uuid.uuid4()), part2=True,
        data_categories=["substance-use"], recipient_organisations=["harbor-housing"]),
        "consent_recorder_not_authorised")


async def test_another_organisation_cannot_edit_demographics_or_discharge(
        runtime: Runtime, systems: dict[str, PartnerClient]) -> None:
    housing = systems["harbor-cases"]
    await rejected(runtime, housing, as_(HOUSING, "client.demographics_updated"),
                   "not_custodian")
    await rejected(runtime, housing, as_(HOUSING, "client.discharged"), "not_custodian")
    await accepted(systems["riverside-ehr"], message("client.demographics_updated"))


async def test_an_organisation_ends_its_own_member_but_never_anothers(
        runtime: Runtime, systems: dict[str, PartnerClient]) -> None:
    await accepted(systems["riverside-ehr"], message(
        "care_team.member_added", member_id="psy-77", role="psychiatrist",
        organisation="riverside-psych"))
    housing = systems["harbor-cases"]
    await rejected(runtime, housing, as_(HOUSING, "care_team.member_ended", member_id="psy-77"),
                   "care_team_change_not_authorised")
    await accepted(housing, as_(HOUSING, "care_team.member_ended"))


async def test_an_unknown_system_is_refused(runtime: Runtime, partner: Partner) -> None:
    rogue = await partner("rogue-cases")
    r = await rejected(runtime, rogue, message("client.registered"), "unknown_source_system")
    assert r.problems[0].field == "source_system"


async def test_an_actor_of_an_organisation_the_system_does_not_speak_for_is_refused(
        runtime: Runtime, systems: dict[str, PartnerClient]) -> None:
    r = await rejected(runtime, systems["county-cases"], as_(HOUSING, "need.identified"),
                       "actor_not_of_system")
    assert r.problems[0].field == "actor.organisation"


async def test_clinical_data_from_a_non_team_organisation_or_a_non_clinician_is_refused(
        runtime: Runtime, systems: dict[str, PartnerClient]) -> None:
    psych, housing = systems["psych-ehr"], systems["harbor-cases"]
    await rejected(runtime, psych, as_(PSYCHIATRIST, "diagnosis.recorded"),
                   "organisation_not_on_care_team")
    await rejected(runtime, housing, as_(HOUSING, "screening.recorded"), "clinician_required")
    await accepted(systems["riverside-ehr"], message(
        "care_team.member_added", member_id="psy-77", role="psychiatrist",
        organisation="riverside-psych"))
    await accepted(psych, as_(PSYCHIATRIST, "diagnosis.recorded"))


async def test_a_referral_step_by_anyone_but_its_recipient_is_refused(
        runtime: Runtime, systems: dict[str, PartnerClient]) -> None:
    ehr, county = systems["riverside-ehr"], systems["county-cases"]
    await accepted(ehr, message("consent.recorded"))
    rid = str(uuid.uuid4())
    await accepted(ehr, message("referral.made", referral_id=rid))
    # county-cases speaks for county-benefits only: it cannot act as harbor-housing ...
    await rejected(runtime, county, as_(HOUSING, "referral.accepted", referral_id=rid),
                   "actor_not_of_system")
    # ... and as itself it is not the referral's recipient
    benefits = {"id": "ba-3", "role": "benefits-advocate", "organisation": "county-benefits"}
    await rejected(runtime, county, as_(benefits, "referral.accepted", referral_id=rid),
                   "not_referral_party")
    await accepted(systems["harbor-cases"], message("referral.accepted", referral_id=rid))
