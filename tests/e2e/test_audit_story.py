"""An auditor's day against the running service (real NATS, both stores): the history over
``/audit/``, who read the record, a chain kept by the runtime, and every view rebuilt from
scratch, compared and switched over while the projector keeps running."""

from __future__ import annotations

import asyncio
import uuid
from typing import Any

import httpx

from services.audit.hash_chain import HashChain
from services.audit.hash_chain_tables import open_chain_table
from services.audit.rebuild import (
    compare,
    compare_derived,
    open_namespaces,
    rebuild,
    switch,
)
from services.partners.client import PartnerClient
from services.projector.consumer import CARE_PLAN
from services.runtime import Runtime
from services.store.care_app import create_care_app
from services.store.event_store_config import eventsourcing_env
from tests.e2e.test_referral_loop import care_plan, referral_status
from tests.helpers import CLIENT_ID, bearer, message

AUDITOR_ID = ("aud-7", "auditor", "riverside-cmhc")


async def story(runtime: Runtime) -> str:
    rid = str(uuid.uuid4())
    ehr = await PartnerClient.connect(runtime.nats_url, "riverside-ehr",
                                      runtime.settings.stream_inbound)
    try:
        for step in (message("client.registered"), message("consent.recorded"),
                     message("referral.made", referral_id=rid)):
            receipt = await ehr.post(step)
            assert receipt.status == "accepted", receipt.summary
    finally:
        await ehr.close()
    await care_plan(runtime, lambda p: referral_status(p, rid) == "requested")
    return rid


async def wait_for(check: Any) -> None:
    for _ in range(200):
        if await asyncio.to_thread(check):
            return
        await asyncio.sleep(0.05)
    raise AssertionError("never happened")


async def test_auditor_reads_history_and_disclosures_over_http_and_is_recorded(
    runtime: Runtime
) -> None:
    await story(runtime)
    async with httpx.AsyncClient(base_url=runtime.http_url or "") as http:
        auditor = bearer(runtime.token_secret or "", *AUDITOR_ID)
        refused = await http.get(f"/audit/clients/{CLIENT_ID}/timeline", headers=bearer(runtime.token_secret or ""))
        assert refused.status_code == 403
        history = await http.get(f"/audit/clients/{CLIENT_ID}/timeline", headers=auditor)
        assert history.status_code == 200
        types = [e["event_type"] for e in history.json()["events"]]
        assert types[:3] == ["client.registered", "client.consent_recorded", "referral.made"]
        fhir = await http.get(f"/audit/clients/{CLIENT_ID}/timeline",
                              params={"format": "fhir"}, headers=auditor)
        assert fhir.json()["resourceType"] == "Bundle"
        as_of = await http.get(f"/audit/clients/{CLIENT_ID}/as-of",
                               params={"at": "2100-01-01T00:00:00Z"}, headers=auditor)
        assert as_of.json()["client"]["given_name"] == "Jordan"
        listed = await http.get(f"/audit/clients/{CLIENT_ID}/disclosures", headers=auditor)
        reads = [d for d in listed.json()["disclosures"] if d["kind"] == "read"]
        coordinator_reads = [d for d in reads if d["recipient"] == "co-5001"]
        assert coordinator_reads and {d["what"] for d in coordinator_reads} == {
            "care_plan.coordinator"}  # the story's own reads are accounted for too
        reads = [d for d in reads if d["recipient"] == "aud-7"]
        assert [(d["recipient"], d["organisation"], d["channel"], d["what"]) for d in reads] == [
            ("aud-7", "riverside-cmhc", "http", "timeline:json"),
            ("aud-7", "riverside-cmhc", "http", "timeline:fhir"),
            ("aud-7", "riverside-cmhc", "http", "care_plan:as-of:2100-01-01T00:00:00+00:00"),
            ("aud-7", "riverside-cmhc", "http", "disclosures")]
        verified = await http.get("/audit/verify", headers=auditor)
        assert verified.json()["ok"] is True


async def test_the_runtime_keeps_the_hash_chain_up_with_the_store(runtime: Runtime) -> None:
    await story(runtime)
    assert runtime.app is not None
    table = open_chain_table(runtime.settings)
    try:
        head = runtime.app.head_position()

        def chained() -> bool:
            link = table.head()
            return link is not None and link.position >= head

        await wait_for(chained)
        assert HashChain(runtime.app, table).verify().ok
    finally:
        table.close()


async def test_rebuilt_views_match_the_live_ones_and_switch_over_without_downtime(
    runtime: Runtime
) -> None:
    rid = await story(runtime)
    settings = runtime.settings
    app = create_care_app(eventsourcing_env(settings))  # as the CLI would: its own connection
    spaces = open_namespaces(settings)
    try:
        result = await asyncio.to_thread(rebuild, app, spaces, CARE_PLAN)
        assert result.events > 0
        diff = await asyncio.to_thread(compare, spaces, CARE_PLAN.view, result.namespace)
        assert diff.identical and diff.compared == 1
        assert runtime.views is not None
        derived = await asyncio.to_thread(compare_derived, spaces, runtime.views, CARE_PLAN,
                                          result.namespace)
        # scope, the custodian's coordinator and auditor views, the break-glass view
        assert derived.identical and derived.compared == 4
        previous = await asyncio.to_thread(switch, app, spaces, CARE_PLAN, result.namespace)
        assert previous == CARE_PLAN.view
        assert spaces.target(CARE_PLAN.view) == result.namespace
        # The projector goes on in the new namespace; readers see it through the alias.
        housing = await PartnerClient.connect(runtime.nats_url, "harbor-cases",
                                              settings.stream_inbound)
        try:
            receipt = await housing.post(message("referral.accepted", referral_id=rid))
            assert receipt.status == "accepted", receipt.summary
        finally:
            await housing.close()
        plan = await care_plan(runtime, lambda p: referral_status(p, rid) == "accepted")
        assert plan["last_position"] > result.position
        again = await asyncio.to_thread(rebuild, app, spaces, CARE_PLAN)
        assert (await asyncio.to_thread(compare, spaces, result.namespace,
                                        again.namespace)).identical
    finally:
        spaces.close()
        app.close()
