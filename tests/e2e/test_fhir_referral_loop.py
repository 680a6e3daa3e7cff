"""A partner that speaks only FHIR closes a referral loop with careloop over NATS: a new
ServiceRequest + Task, accepted, completed, acknowledged. Real nats-server, both stores;
the receipts are the native ones, and the care plan (and its FHIR export) shows the loop."""

from __future__ import annotations

import json
import uuid
from pathlib import Path
from typing import Any

import httpx

from services.runtime import Runtime
from tests.e2e.test_care_story import Team, team
from tests.e2e.test_referral_loop import care_plan, referral_status
from tests.helpers import EXAMPLES, bearer

__all__ = ["team"]
FHIR_EXAMPLES = Path(EXAMPLES) / "fhir"


def fhir_message(name: str, referral_id: str) -> dict[str, Any]:
    """A committed FHIR example with a fresh message id, about ``referral_id``."""
    text = (FHIR_EXAMPLES / f"{name}.json").read_text()
    doc: dict[str, Any] = json.loads(text.replace("2b9e4f61-7c3a-4d58-9e1b-6a0c5d3f8e72",
                                                  referral_id))
    doc["message_id"] = f"fhir-{uuid.uuid4()}"
    return doc


async def post(team: Team, doc: dict[str, Any]) -> Any:
    source = doc["source_system"]
    if source not in team.clients:
        from services.partners.client import PartnerClient

        team.clients[source] = await PartnerClient.connect(
            team.runtime.nats_url, source, team.runtime.settings.stream_inbound)
    return await team.clients[source].post(doc)


async def test_a_fhir_partner_closes_the_loop_over_nats(runtime: Runtime, team: Team) -> None:
    await team.ok("client.registered")
    await team.ok("care_team.member_added")
    await team.ok("consent.recorded")  # housing, to harbor-housing
    rid = str(uuid.uuid4())

    answers = []
    for name in ("fhir.referral", "fhir.task.accepted", "fhir.task.completed",
                 "fhir.service_request.completed"):
        doc = fhir_message(name, rid)
        receipt = await post(team, doc)
        assert receipt.status == "accepted", f"{name}: {receipt.summary} {receipt.problems}"
        answers.append(receipt.message_type)
        if name == "fhir.task.accepted":  # resent: the same receipt, marked duplicate
            again = await post(team, doc)
            assert again.duplicate and again.event_ids == receipt.event_ids
    assert answers == ["referral.made", "referral.accepted", "referral.completed",
                       "referral.outcome_acknowledged"]
    # accepting a completed referral breaks the same rule as the native message would
    late = await post(team, fhir_message("fhir.task.accepted", rid))
    assert (late.status, late.reason) == ("rejected", "invalid_referral_transition")

    plan = await care_plan(runtime, lambda p: any(
        r["referral_id"] == rid and r["loop_closed"] for r in p["referrals"]))
    assert referral_status(plan, rid) == "completed"
    [referral] = [r for r in plan["referrals"] if r["referral_id"] == rid]
    assert (referral["owner"], referral["outcome"]) == ("ha-207", "got-help")
    assert referral["to_organisation"] == "harbor-housing" and referral["to_service"] == "housing"

    async with httpx.AsyncClient(base_url=runtime.http_url or "") as http:
        bundle = (await http.get(f"/clients/{plan['client_id']}/fhir",
                                 headers=bearer(runtime.token_secret or ""))).json()
    [task] = [e["resource"] for e in bundle["entry"]
              if e["resource"].get("focus", {}).get("reference") == f"ServiceRequest/{rid}"]
    assert task["status"] == "completed"
    assert task["businessStatus"]["coding"][0]["code"] == "got-help"


async def test_fhir_messages_meet_the_same_rules_as_native_ones(
    runtime: Runtime, team: Team
) -> None:
    await team.ok("client.registered")
    rid = str(uuid.uuid4())
    # no consent covers housing for harbor-housing yet: the native rule refuses it
    refused = await post(team, fhir_message("fhir.referral", rid))
    assert (refused.status, refused.reason) == ("rejected", "consent_required")
    # a Task update for a referral that does not exist is refused like the native one
    unknown = await post(team, fhir_message("fhir.task.accepted", str(uuid.uuid4())))
    assert unknown.status == "rejected"
    # a Task rejected without a reason: the FHIR field to fix is named
    doc = fhir_message("fhir.task.accepted", rid)
    doc["payload"]["status"] = "rejected"
    no_reason = await post(team, doc)
    assert no_reason.status == "rejected"
    assert [p.field for p in no_reason.problems] == ["payload.statusReason.text"]
    # nesting deeper than Python's JSON parser allows: a receipt, and ingest goes on
    deep = await team.clients["harbor-cases"].post_raw(
        b'{"payload": ' + b"[" * 50_000 + b"]" * 50_000 + b"}", "fhir.task", timeout=30)
    assert (deep.status, deep.reason) == ("rejected", "too_deep")
    after = await post(team, fhir_message("fhir.task.accepted", str(uuid.uuid4())))
    assert after.status == "rejected" and after.reason != "too_deep"
