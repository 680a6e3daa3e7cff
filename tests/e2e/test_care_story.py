"""The whole domain, as a team would live it, over real NATS and both stores.

A client is referred to psychiatry, housing and benefits; a case conference is scheduled,
held and finalized and its action item appears on the care plan; one referral is rejected,
one completed and acknowledged; a consent is revoked and a later referral needing it is
refused.
"""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Callable
from typing import Any

import pytest

from contracts.v1.receipts import Receipt
from services.partners.client import PartnerClient
from services.runtime import Runtime
from tests.e2e.test_referral_loop import care_plan
from tests.helpers import CLIENT_ID, message

BENEFITS = {"id": "ba-88", "role": "benefits-advocate", "organisation": "county-benefits"}
PSYCHIATRY = {"id": "psy-9", "role": "psychiatrist", "organisation": "riverside-psych"}
CONFERENCE = "3a7e5c1b-9d2f-4e8a-b6c4-1f0e2d3c4b5a"


class Team:
    """One partner connection per source system, posting as the named actor."""

    def __init__(self, runtime: Runtime,
                 options: Callable[[str], dict[str, Any]] = lambda system: {}) -> None:
        """``options(system)``: how that system connects (its NATS user, on a closed bus)."""
        self.runtime, self.clients = runtime, {}  # type: dict[str, PartnerClient]
        self.options = options

    async def post(self, message_type: str, *, source: str | None = None,
                   actor: dict[str, str] | None = None, **payload: Any) -> Receipt:
        m = message(message_type, **payload)
        if source:
            m["source_system"] = source
        if actor:
            m["actor"] = actor
        if m["source_system"] not in self.clients:
            self.clients[m["source_system"]] = await PartnerClient.connect(
                self.runtime.nats_url, m["source_system"], self.runtime.settings.stream_inbound,
                **self.options(m["source_system"]))
        return await self.clients[m["source_system"]].post(m)

    async def ok(self, message_type: str, **kwargs: Any) -> Receipt:
        receipt = await self.post(message_type, **kwargs)
        assert receipt.status == "accepted", f"{message_type}: {receipt.summary}"
        return receipt


@pytest.fixture
async def team(runtime: Runtime) -> AsyncIterator[Team]:
    t = Team(runtime)
    yield t
    for client in t.clients.values():
        await client.close()


async def test_the_care_story_from_referrals_to_conference_to_revoked_consent(
    runtime: Runtime, team: Team
) -> None:
    # The social worker registers the client, the care team and two consents.
    await team.ok("client.registered")
    await team.ok("care_team.member_added")
    await team.ok("consent.recorded")  # housing, to harbor-housing
    benefits_consent = str(uuid.uuid4())
    await team.ok("consent.recorded", consent_id=benefits_consent,
                  recipient_roles=["benefits-advocate"], recipient_organisations=[],
                  data_categories=["benefits"])

    # Three referrals go out.
    psych, housing, benefits = (str(uuid.uuid4()) for _ in range(3))
    await team.ok("referral.made", referral_id=psych, to_service="psychiatry",
                  to_organisation="riverside-psych", reason="Medication review.")
    await team.ok("referral.made", referral_id=housing)
    await team.ok("referral.made", referral_id=benefits, to_service="benefits",
                  to_organisation="county-benefits", reason="Disability benefit appeal.")

    # A case conference is scheduled, held and finalized.
    for step in ("conference.drafted", "conference.scheduled", "conference.attendance_recorded",
                 "conference.discussion_agreed", "conference.session_started",
                 "conference.item_discussed", "conference.action_item_assigned",
                 "conference.adjourned", "conference.finalized"):
        await team.ok(step)

    # Benefits rejects; housing completes and the loop is closed; psychiatry accepts.
    await team.ok("referral.rejected", source="county-cases", actor=BENEFITS,
                  referral_id=benefits, reason="Appeal window has closed; reapply in March.")
    for step in ("referral.accepted", "referral.completed"):
        await team.ok(step, referral_id=housing)
    await team.ok("referral.outcome_acknowledged", referral_id=housing)
    await team.ok("referral.accepted", source="psych-ehr", actor=PSYCHIATRY,
                  referral_id=psych, owner="psy-9")

    # The client revokes the benefits consent; a new benefits referral is refused.
    await team.ok("consent.revoked", consent_id=benefits_consent, reason="Client withdrew it.")
    refused = await team.post("referral.made", referral_id=str(uuid.uuid4()),
                              to_service="benefits", to_organisation="county-benefits",
                              reason="New application.")
    assert (refused.status, refused.reason) == ("rejected", "consent_required")
    assert "benefits" in refused.problems[0].message
    assert refused.problems[0].field == "payload.to_organisation"

    plan = await care_plan(runtime, lambda p: (
        p.get("consents", {}).get(benefits_consent, {}).get("status") == "inactive"
        and any(r["status"] == "accepted" and r["to_service"] == "psychiatry"
                for r in p["referrals"])))
    by_id = {r["referral_id"]: r for r in plan["referrals"]}
    assert set(by_id) == {psych, housing, benefits}
    assert by_id[psych]["status"] == "accepted"
    assert by_id[benefits]["status"] == "rejected" and not by_id[benefits]["loop_closed"]
    assert by_id[housing]["status"] == "completed" and by_id[housing]["loop_closed"]

    conference = plan["conferences"][CONFERENCE]
    assert conference["status"] == "finalized"
    assert conference["agenda_item"]["decisions"]
    conference_tasks = [t for t in plan["tasks"].values()
                        if t["source"] == f"conference:{CONFERENCE}"]
    assert len(conference_tasks) == 1
    assert (conference_tasks[0]["owner"], conference_tasks[0]["status"]) == ("ha-207", "open")
    assert plan["client_id"] == CLIENT_ID
