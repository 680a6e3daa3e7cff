"""Who may read whom, tried as a careful privacy officer would, across organisations: one
test per finding (2 to 8) of the cross-organisation review, over HTTP and NATS, real
nats-server, both stores.

The client is Riverside CMHC's (its EHR registered them). On the team: Riverside's social
worker, two housing agencies (Harbor and Bayside). The housing consent and the Part 2
consent name Harbor only. Riverside CMHC and Riverside Psychiatry are registered treating
providers; Valley Psychiatry is not.
"""

from __future__ import annotations

import asyncio
import json
import uuid
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest

from services.runtime import Runtime
from services.settings import Settings
from tests.e2e.test_care_story import Team
from tests.helpers import CLIENT_ID, bearer, example, with_partner_registry

Who = tuple[str, str, str]
SW = ("sw-1042", "clinical-social-worker", "riverside-cmhc")
HARBOR = ("ha-207", "housing-advocate", "harbor-housing")
BAYSIDE = ("ha-301", "housing-advocate", "bayside-housing")
COORD = ("co-5001", "coordinator", "riverside-cmhc")
AUDITOR = ("aud-7", "auditor", "riverside-cmhc")
OTHER_COORD = ("co-9", "coordinator", "elsewhere-cmhc")
OTHER_AUDITOR = ("aud-9", "auditor", "state-oversight")
TREATING_PSY = ("psy-9", "psychiatrist", "riverside-psych")
UNREGISTERED_PSY = ("psy-66", "psychiatrist", "valley-psych")
CONFERENCE = example("conference.drafted")["payload"]["conference_id"]
NOTE = "Session 2 of CBT"
SUD = "goal of abstinence"
DIAGNOSIS = "F32.1"
SUD_LINE = "Drinking again since the eviction notice"


@pytest.fixture
def settings(base_settings: Settings, nats_server: Any, tmp_path: Any) -> Settings:
    return with_partner_registry(base_settings, tmp_path).model_copy(
        update={"nats_url": nats_server.url})


@pytest.fixture
async def story(runtime: Runtime) -> AsyncIterator[Team]:
    team = Team(runtime)
    await team.ok("client.registered")
    await team.ok("care_team.member_added")  # Harbor's advocate
    for member_id, role, org in (SW, BAYSIDE):
        await team.ok("care_team.member_added", member_id=member_id, role=role,
                      organisation=org)
    await team.ok("consent.recorded")  # housing: housing advocates of harbor-housing
    await team.ok("consent.recorded", consent_id=str(uuid.uuid4()), part2=True,
                  recipient_roles=["housing-advocate"], recipient_organisations=["harbor-housing"],
                  data_categories=["substance-use"])
    for step in ("client.contact_updated", "need.identified", "goal.set", "referral.made",
                 "screening.recorded", "diagnosis.recorded", "medication.recorded",
                 "psychotherapy_note.recorded", "substance_use_treatment.recorded"):
        await team.ok(step)
    await team.ok("risk_flag.raised", level="high")
    discussed = example("conference.item_discussed")["payload"]
    lines = [*discussed["information_shared"], {
        "discipline": "clinical-social-work", "summary": SUD_LINE,
        "sensitive_topic": "substance-use"}]
    for step in ("conference.drafted", "conference.scheduled", "conference.attendance_recorded",
                 "conference.discussion_agreed", "conference.session_started"):
        await team.ok(step)
    await team.ok("conference.item_discussed", information_shared=lines)
    await team.ok("goal.set", goal_id=str(uuid.uuid4()), domain="psychosocial",
                  description="The story is complete", need_id=None)
    await until(runtime, SW, lambda v: "The story is complete" in json.dumps(v))
    yield team
    for client in team.clients.values():
        await client.close()


async def get(runtime: Runtime, who: Who, path: str = "", **params: Any) -> httpx.Response:
    async with httpx.AsyncClient(base_url=runtime.http_url or "") as http:
        return await http.get(path or f"/clients/{CLIENT_ID}/care-plan", params=params,
                              headers=bearer(runtime.token_secret or "", *who))


async def post(runtime: Runtime, who: Who, path: str, body: dict[str, Any]) -> httpx.Response:
    async with httpx.AsyncClient(base_url=runtime.http_url or "") as http:
        return await http.post(path, json=body, headers=bearer(runtime.token_secret or "", *who))


async def until(runtime: Runtime, who: Who, ok: Any, path: str = "", **params: Any
                ) -> dict[str, Any]:
    for _ in range(600):
        r = await get(runtime, who, path, **params)
        if r.status_code == 200 and ok(r.json()):
            return r.json()  # type: ignore[no-any-return]
        await asyncio.sleep(0.05)
    raise AssertionError(f"never: {r.status_code} {r.text[:300]}")


async def ask(runtime: Runtime, team: Team, who: Who, query: str, **args: Any) -> dict[str, Any]:
    token = bearer(runtime.token_secret or "", *who)["Authorization"].split()[1]
    reply = await team.clients["riverside-ehr"].nc.request(
        f"careloop.query.{query}", json.dumps({"token": token, **args}).encode(), timeout=10)
    return json.loads(reply.data)  # type: ignore[no-any-return]


def same_refusal(known: httpx.Response, unknown: httpx.Response, unknown_id: str) -> bool:
    """The same status and the very same body: nothing to tell them apart."""
    return known.status_code == unknown.status_code == 404 and known.content == unknown.content


async def test_2_other_organisations_coordinators_and_auditors_see_nothing_and_learn_nothing(
    runtime: Runtime, story: Team
) -> None:
    nowhere = str(uuid.uuid4())
    for who, path in ((OTHER_COORD, "/clients/{}/care-plan"),
                      (OTHER_AUDITOR, "/clients/{}/care-plan"),
                      (OTHER_AUDITOR, "/audit/clients/{}/timeline"),
                      (OTHER_AUDITOR, "/audit/clients/{}/disclosures")):
        known = await get(runtime, who, path.format(CLIENT_ID))
        unknown = await get(runtime, who, path.format(nowhere))
        assert same_refusal(known, unknown, nowhere), (who, path, known.text)
    as_of = {"at": "2100-01-01T00:00:00Z"}
    assert same_refusal(await get(runtime, OTHER_AUDITOR, f"/audit/clients/{CLIENT_ID}/as-of",
                                  **as_of),
                        await get(runtime, OTHER_AUDITOR, f"/audit/clients/{nowhere}/as-of",
                                  **as_of), nowhere)
    over_nats = [await ask(runtime, story, OTHER_COORD, "care_plan", client_id=c)
                 for c in (CLIENT_ID, nowhere)]
    assert over_nats[0] == over_nats[1] and over_nats[0]["status"] == 404
    # Worklists: the custodian's coordinator has the high-risk client; another has nothing.
    ours = await until(runtime, COORD, lambda w: w["total"] == 1, "/worklists/high-risk")
    assert ours["items"][0]["client_id"] == CLIENT_ID
    theirs = (await get(runtime, OTHER_COORD, "/worklists/high-risk")).json()
    assert theirs["total"] == 0 and theirs["items"] == []
    one = await get(runtime, OTHER_COORD, "/worklists/high-risk", client_id=CLIENT_ID)
    none = await get(runtime, OTHER_COORD, "/worklists/high-risk", client_id=nowhere)
    assert same_refusal(one, none, nowhere)
    assert (await get(runtime, COORD)).status_code == 200
    assert (await get(runtime, AUDITOR)).status_code == 200


async def test_3_a_consent_naming_one_organisation_reaches_no_other_of_the_same_role(
    runtime: Runtime, story: Team
) -> None:
    harbor = (await get(runtime, HARBOR)).json()
    bayside = (await get(runtime, BAYSIDE)).json()
    assert [g["domain"] for g in harbor["goals"].values()] == ["housing"]
    assert SUD in json.dumps(harbor) and harbor["redisclosure_notice"]
    assert bayside["consent_required"] and "goals" not in bayside
    assert SUD not in json.dumps(bayside) and "redisclosure_notice" not in bayside
    assert bayside["referrals"] == []


async def test_4_psychotherapy_notes_belong_to_their_author_in_their_organisation_and_role(
    runtime: Runtime, story: Team
) -> None:
    path = f"/clients/{CLIENT_ID}/psychotherapy-notes"
    assert NOTE in (await get(runtime, SW, path)).text
    for impostor in (("sw-1042", "clinical-social-worker", "eastside-cmhc"),
                     ("sw-1042", "psychiatrist", "riverside-cmhc")):
        answer = await get(runtime, impostor, path)
        assert answer.status_code == 404 and NOTE not in answer.text, impostor
        over_nats = await ask(runtime, story, impostor, "psychotherapy_notes",
                              client_id=CLIENT_ID)
        assert over_nats["status"] == 404 and NOTE not in json.dumps(over_nats)


async def test_5_break_glass_is_for_clinicians_of_treating_providers_and_tells_the_custodian(
    runtime: Runtime, story: Team
) -> None:
    reason = {"reason": "Client brought to A&E unresponsive; need medication history."}
    path = f"/clients/{CLIENT_ID}/break-glass"
    refused = await post(runtime, UNREGISTERED_PSY, path, reason)
    assert refused.status_code == 403 and "treating provider" in refused.text
    assert (await get(runtime, UNREGISTERED_PSY, access="break-glass")).status_code == 403
    assert (await post(runtime, OTHER_COORD, path, reason)).status_code == 403
    nowhere = str(uuid.uuid4())
    assert (await post(runtime, TREATING_PSY, f"/clients/{nowhere}/break-glass",
                       reason)).status_code == 404
    opened = await post(runtime, TREATING_PSY, path, reason)
    assert opened.status_code == 200
    view = (await get(runtime, TREATING_PSY, access="break-glass")).json()
    assert DIAGNOSIS in json.dumps(view) and NOTE not in json.dumps(view)
    # The same user id at another organisation holds no grant.
    twin = ("psy-9", "psychiatrist", "valley-psych")
    assert (await get(runtime, twin, access="break-glass")).status_code == 403
    entry = await until(runtime, COORD, lambda w: w["total"] == 1, "/worklists/break-glass")
    assert entry["items"][0]["by"]["id"] == "psy-9" and "A&E" in entry["items"][0]["reason"]
    assert (await get(runtime, OTHER_COORD, "/worklists/break-glass")).json()["total"] == 0


async def test_6_auditors_see_restricted_content_only_under_an_investigation_grant(
    runtime: Runtime, story: Team
) -> None:
    timeline = f"/audit/clients/{CLIENT_ID}/timeline"
    as_of = f"/audit/clients/{CLIENT_ID}/as-of"
    at = {"at": "2100-01-01T00:00:00Z"}
    for answer in (await get(runtime, AUDITOR, timeline), await get(runtime, AUDITOR, as_of, **at)):
        assert answer.status_code == 200
        for secret in (NOTE, SUD, DIAGNOSIS, SUD_LINE, "Confidential shelter"):
            assert secret not in answer.text, secret
        assert "redacted" in answer.text
    granted = await post(runtime, AUDITOR, f"/audit/clients/{CLIENT_ID}/investigation",
                         {"reason": "Complaint 2026-114: review of Part 2 disclosures."})
    assert granted.status_code == 200
    for answer in (await get(runtime, AUDITOR, timeline), await get(runtime, AUDITOR, as_of, **at)):
        assert SUD in answer.text and DIAGNOSIS in answer.text and SUD_LINE in answer.text
        assert NOTE not in answer.text  # psychotherapy-note text: never
    view = await get(runtime, AUDITOR, access="break-glass")
    assert SUD in view.text and "contact" not in view.json() and NOTE not in view.text
    assert (await post(runtime, OTHER_AUDITOR, f"/audit/clients/{CLIENT_ID}/investigation",
                       {"reason": "Just looking at another organisation's client."})
            ).status_code == 404


async def test_7_summary_depth_deny_provisions_rosters_and_labels_per_line(
    runtime: Runtime, story: Team
) -> None:
    coordinator = json.dumps((await get(runtime, COORD)).json())
    for detail in ("44260-8", "item_score", "\"items\""):
        assert detail not in coordinator, detail
    assert "screening_trend" in coordinator and "Major depressive" in coordinator
    # A deny provision closes psychiatric data to coordinators (and only to them).
    await story.ok("consent.recorded", consent_id=str(uuid.uuid4()), provision="deny",
                   recipient_roles=["coordinator"], recipient_organisations=[],
                   purposes=["care-coordination"], data_categories=["psychiatric"])
    denied = await until(runtime, COORD, lambda v: "diagnoses" not in v)
    assert "screening_trend" not in denied and "medications" not in denied
    assert DIAGNOSIS in (await get(runtime, SW)).text
    # Advocates' roster: coordinators and their own domain, never clinical roles.
    for advocate in (HARBOR, BAYSIDE):
        roster = (await get(runtime, advocate)).json()["care_team"]
        assert {m["role"] for m in roster.values()} == {"housing-advocate"}
    # One Part 2 line hides that line, not the agenda item.
    item = (await get(runtime, SW)).json()["conferences"][CONFERENCE]["agenda_item"]
    assert item["decisions"] and len(item["information_shared"]) == 3
    assert SUD_LINE not in json.dumps(item)


async def test_8_refused_attempts_and_aggregate_reads_are_accounted_for(
    runtime: Runtime, story: Team
) -> None:
    async with httpx.AsyncClient(base_url=runtime.http_url or "") as http:
        forged = await http.get(f"/clients/{CLIENT_ID}/care-plan",
                                headers={"Authorization": "Bearer forged"})
        wrong_purpose = await http.get(f"/clients/{CLIENT_ID}/care-plan", headers={
            **bearer(runtime.token_secret or "", *HARBOR), "X-Careloop-Purpose": "treatment"})
    assert forged.status_code == 401 and wrong_purpose.status_code == 403
    assert (await get(runtime, OTHER_COORD)).status_code == 404
    assert (await get(runtime, HARBOR, "/worklists/high-risk")).status_code == 403
    listed = (await get(runtime, AUDITOR, "/audit/refusals")).json()["refusals"]
    seen = {(r["who"]["id"], r["status"], r["reason"]) for r in listed}
    assert {("anonymous", 401, "unauthenticated"), ("co-9", 404, "out_of_scope"),
            ("ha-207", 403, "role_not_permitted")} <= seen
    harbor = await get(runtime, ("aud-2", "auditor", "harbor-housing"), "/audit/refusals")
    assert ("ha-207", 403, "role_not_permitted") in {  # its own people's refusals
        (r["who"]["id"], r["status"], r["reason"]) for r in harbor.json()["refusals"]}
    fhir = (await get(runtime, AUDITOR, f"/audit/clients/{CLIENT_ID}/timeline",
                      format="fhir")).json()
    failed = [e["resource"] for e in fhir["entry"] if e["resource"].get("outcome") == "4"]
    assert {f["outcomeDesc"] for f in failed} >= {"404 out_of_scope", "401 unauthenticated"}
    other = (await get(runtime, OTHER_AUDITOR, "/audit/refusals")).json()["refusals"]
    assert not [r for r in other if r["client_id"] == CLIENT_ID]
    aggregate = await get(runtime, AUDITOR, f"/audit/aggregates/{CONFERENCE}", version=3)
    assert aggregate.status_code == 200
    assert (await get(runtime, OTHER_AUDITOR, f"/audit/aggregates/{CONFERENCE}",
                      version=3)).status_code == 404
    disclosures = (await get(runtime, AUDITOR,
                             f"/audit/clients/{CLIENT_ID}/disclosures")).json()["disclosures"]
    assert f"aggregate:{CONFERENCE}@v3" in {d["what"] for d in disclosures}
