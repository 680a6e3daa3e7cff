"""The walking skeleton, driven exactly as partner systems and a coordinator would:
JSON over NATS, receipts back, the care plan over HTTP. Real nats-server, both stores."""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from datetime import date
from pathlib import Path
from typing import Any

import httpx
import pytest

from contracts.v1.receipts import Receipt
from services.partners.client import PartnerClient
from services.runtime import Runtime
from services.settings import Settings
from tests.helpers import CLIENT_ID, bearer, message

ROOT = Path(__file__).resolve().parents[2]

Partner = Callable[[str], Awaitable[PartnerClient]]


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


async def care_plan(runtime: Runtime, until: Callable[[dict[str, Any]], bool]) -> dict[str, Any]:
    """GET the care plan until it shows what the test waits for (projection is async)."""
    headers = bearer(runtime.token_secret or "")
    async with httpx.AsyncClient(base_url=runtime.http_url or "") as http:
        for _ in range(600):  # generous: the machine may be busy
            r = await http.get(f"/clients/{CLIENT_ID}/care-plan", headers=headers)
            if r.status_code == 200 and until(r.json()):
                return r.json()  # type: ignore[no-any-return]
            await asyncio.sleep(0.05)
    raise AssertionError(f"care plan never matched; last answer {r.status_code}: {r.text[:500]}")


def referral_status(plan: dict[str, Any], rid: str) -> str | None:
    return next((r["status"] for r in plan["referrals"] if r["referral_id"] == rid), None)


async def test_referral_travels_the_whole_loop_and_shows_in_the_care_plan(
    runtime: Runtime, partner: Partner
) -> None:
    ehr, housing = await partner("riverside-ehr"), await partner("harbor-cases")
    rid = str(uuid.uuid4())
    await ehr.post(message("client.registered"))
    consent = await ehr.post(message("consent.recorded"))
    assert consent.status == "accepted", consent.summary
    receipts: list[Receipt] = [await ehr.post(message("referral.made", referral_id=rid))]
    for step in ("referral.accepted", "referral.completed"):
        receipts.append(await housing.post(message(step, referral_id=rid)))
    receipts.append(await ehr.post(message("referral.outcome_acknowledged", referral_id=rid)))

    assert [r.status for r in receipts] == ["accepted"] * 4, [r.summary for r in receipts]
    assert all(len(r.event_ids) == 1 for r in receipts)

    plan = await care_plan(runtime, lambda p: any(r["loop_closed"] for r in p["referrals"]))
    (referral,) = plan["referrals"]
    assert referral["status"] == "completed" and referral["outcome"] == "got-help"
    assert [h["event"] for h in referral["history"]] == [
        "referral.made", "referral.accepted", "referral.completed",
        "referral.outcome_acknowledged"]
    assert [h["event_id"] for h in referral["history"]] == [r.event_ids[0] for r in receipts]
    assert referral["history"][1]["actor"]["organisation"] == "harbor-housing"


async def test_malformed_message_is_rejected_and_changes_nothing(
    runtime: Runtime, partner: Partner
) -> None:
    ehr = await partner("riverside-ehr")
    await ehr.post(message("client.registered"))
    head = await asyncio.to_thread(runtime.app.head_position)  # type: ignore[union-attr]

    broken = await ehr.post_raw(b'{"schema_version": 1, "message_id": "m-1"', "referral.made")
    assert (broken.status, broken.reason) == ("rejected", "invalid_json")

    bad = message("referral.made")
    del bad["payload"]["reason"]
    invalid = await ehr.post(bad)
    assert (invalid.status, invalid.reason) == ("rejected", "schema_violation")
    assert invalid.message_id == bad["message_id"]
    assert [p.field for p in invalid.problems] == ["payload.reason"]

    housing = await partner("harbor-cases")
    unknown = await housing.post(message("referral.completed", referral_id=str(uuid.uuid4())))
    assert (unknown.status, unknown.reason) == ("rejected", "referral_not_found")

    assert await asyncio.to_thread(runtime.app.head_position) == head  # type: ignore[union-attr]


async def test_recipient_steps_from_the_wrong_organisation_are_refused_with_the_rule(
    runtime: Runtime, partner: Partner
) -> None:
    ehr = await partner("riverside-ehr")
    await ehr.post(message("client.registered"))
    await ehr.post(message("consent.recorded"))
    rid = str(uuid.uuid4())
    await ehr.post(message("referral.made", referral_id=rid))
    forged = message("referral.accepted", referral_id=rid)
    forged["source_system"] = "riverside-ehr"
    forged["actor"] = {"id": "sw-1", "role": "clinical-social-worker", "organisation": "riverside-cmhc"}
    receipt = await ehr.post(forged)
    assert (receipt.status, receipt.reason) == ("rejected", "not_referral_party")
    assert receipt.problems[0].field == "actor.organisation"


async def test_duplicate_delivery_gets_the_same_receipt_and_no_new_events(
    runtime: Runtime, partner: Partner
) -> None:
    ehr = await partner("riverside-ehr")
    registration = message("client.registered")
    first = await ehr.post(registration)
    head = await asyncio.to_thread(runtime.app.head_position)  # type: ignore[union-attr]
    again = await ehr.post(registration)
    assert again.status == "accepted" and again.duplicate
    assert again.event_ids == first.event_ids
    assert await asyncio.to_thread(runtime.app.head_position) == head  # type: ignore[union-attr]


async def test_health_reports_nats_store_and_zero_lag_once_caught_up(
    runtime: Runtime, partner: Partner
) -> None:
    ehr = await partner("riverside-ehr")
    await ehr.post(message("client.registered"))
    await care_plan(runtime, lambda p: p["client"] is not None)
    async with httpx.AsyncClient(base_url=runtime.http_url or "") as http:
        for _ in range(600):  # the reads above were recorded: wait until those are projected
            health = (await http.get("/health")).json()
            if health["projection"]["lag"] == 0 and health["relay"]["lag"] == 0:
                break
            await asyncio.sleep(0.05)
        spec = (await http.get("/openapi.json")).json()
    assert health["status"] == "ok" and health["nats"]["connected"]
    assert health["store"]["head"] > 2  # registration, its ledger entry, and recorded reads
    assert health["projection"]["lag"] == 0 and health["relay"]["lag"] == 0
    assert "/clients/{client_id}/care-plan" in spec["paths"]


async def test_care_plan_needs_a_valid_token_and_a_role_with_rights(runtime: Runtime) -> None:
    secret = runtime.token_secret or ""
    async with httpx.AsyncClient(base_url=runtime.http_url or "") as http:
        anonymous = await http.get(f"/clients/{CLIENT_ID}/care-plan")
        forged = await http.get(f"/clients/{CLIENT_ID}/care-plan",
                                headers=bearer("not-the-secret-" * 3))
        advocate = await http.get(f"/clients/{CLIENT_ID}/care-plan",
                                  headers=bearer(secret, "ha-1", "housing-advocate", "harbor"))
        unknown = await http.get(f"/clients/{uuid.uuid4()}/care-plan", headers=bearer(secret))
        wrong_purpose = await http.get(f"/clients/{CLIENT_ID}/care-plan", headers={
            **bearer(secret), "X-Careloop-Purpose": "treatment"})
    assert anonymous.status_code == 401 and forged.status_code == 401
    assert advocate.status_code == 404  # off the caseload: as if there were no such client
    assert unknown.status_code == 404
    assert wrong_purpose.status_code == 403


async def test_messages_sent_while_careloop_is_down_are_processed_when_it_returns(
    settings: Settings,
) -> None:
    first = await Runtime(settings).start()
    await first.stop()  # careloop is down; NATS keeps running

    ehr = await PartnerClient.connect(settings.nats_url or "", "riverside-ehr", settings.stream_inbound)
    try:
        ack = await ehr.js.publish(
            "careloop.in.riverside-ehr.client.registered",
            json.dumps(message("client.registered")).encode(), stream=settings.stream_inbound,
        )
        returned = await Runtime(settings).start()
        try:
            plan = await care_plan(returned, lambda p: p["client"] is not None)
            assert plan["client"]["family_name"] == "Rivera"
            assert ack.seq == 1
        finally:
            await returned.stop()
    finally:
        await ehr.close()


async def test_cli_post_prints_an_accepted_receipt(runtime: Runtime) -> None:
    s = runtime.settings
    env = {**os.environ, "NATS_URL": runtime.nats_url, "CARELOOP_STREAM_INBOUND": s.stream_inbound}
    cli = [sys.executable, "-m", "services.cli", "post"]
    done = await asyncio.to_thread(
        subprocess.run, [*cli, "contracts/examples/client.registered.json"],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=60,
    )
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)["status"] == "accepted"

    broken = ROOT / "tests" / "e2e" / "broken-message.json"
    refused = await asyncio.to_thread(
        subprocess.run, [*cli, str(broken), "--source", "riverside-ehr", "--type", "referral.made"],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=60,
    )
    assert refused.returncode == 1
    assert json.loads(refused.stdout)["reason"] == "invalid_json"


async def test_missed_response_deadlines_become_events_once(
    runtime: Runtime, partner: Partner
) -> None:
    ehr = await partner("riverside-ehr")
    await ehr.post(message("client.registered"))
    await ehr.post(message("consent.recorded"))
    rid = str(uuid.uuid4())
    made = await ehr.post(message("referral.made", referral_id=rid))  # business date 2026-11-03
    assert made.status == "accepted", made.summary
    await care_plan(runtime, lambda p: referral_status(p, rid) == "requested")
    assert runtime.deadlines is not None

    assert await asyncio.to_thread(runtime.deadlines.check, date(2026, 11, 5)) == 0
    assert await asyncio.to_thread(runtime.deadlines.check, date(2026, 11, 6)) == 1
    assert await asyncio.to_thread(runtime.deadlines.check, date(2026, 11, 6)) == 0
    plan = await care_plan(runtime, lambda p: any(r["missed_deadlines"] for r in p["referrals"]))
    assert plan["referrals"][0]["missed_deadlines"] == ["response-due"]
    assert plan["referrals"][0]["status"] == "requested"  # a missed deadline is not a state

    assert await asyncio.to_thread(runtime.deadlines.check, date(2026, 11, 30)) == 1
    plan = await care_plan(runtime, lambda p: len(p["referrals"][0]["missed_deadlines"]) == 2)
    watcher = plan["referrals"][0]["history"][-1]
    assert watcher["actor"]["role"] == "system" and watcher["kind"] == "response-deadline"


async def test_an_actor_must_belong_to_the_sending_system(settings: Settings) -> None:
    registry = ROOT / "deploy" / "partners.json"
    guarded = await Runtime(settings.model_copy(update={"partners_file": registry})).start()
    ehr = await PartnerClient.connect(guarded.nats_url, "riverside-ehr", settings.stream_inbound)
    try:
        head = await asyncio.to_thread(guarded.app.head_position)  # type: ignore[union-attr]
        forged = message("client.registered")
        forged["actor"] = {"id": "ha-207", "role": "housing-advocate",
                           "organisation": "harbor-housing"}
        receipt = await ehr.post(forged)
        assert (receipt.status, receipt.reason) == ("rejected", "actor_not_of_system")
        assert receipt.problems[0].field == "actor.organisation"
        assert await asyncio.to_thread(guarded.app.head_position) == head  # type: ignore[union-attr]
        honest = await ehr.post(message("client.registered"))
        assert honest.status == "accepted", honest.summary
    finally:
        await ehr.close()
        await guarded.stop()
