"""Each role, authenticated, gets exactly its view, over HTTP and NATS; every read is
recorded. Real nats-server, both stores."""

from __future__ import annotations

import asyncio
import json
import uuid
from collections.abc import AsyncIterator
from datetime import date
from typing import Any

import httpx
import pytest

from projections import care_plan, role_views
from projections.care_plan_derived import NOTES_VIEW, derive
from projections.view_store import SQLiteViewStore
from services.runtime import Runtime
from services.settings import Settings
from services.store.read_log import ReadFact, ReadLog
from tests.e2e.test_care_story import Team
from tests.helpers import CLIENT_ID, bearer, with_partner_registry
from tests.rebuild import project

SW = ("sw-1042", "clinical-social-worker", "riverside-cmhc")
PSY = ("psy-3307", "psychiatrist", "riverside-cmhc")
HOUSING = ("ha-207", "housing-advocate", "harbor-housing")
BENEFITS = ("ba-88", "benefits-advocate", "county-benefits")
COORD = ("co-5001", "coordinator", "riverside-cmhc")
AUDITOR = ("au-1", "auditor", "riverside-cmhc")
NOTE_TEXT = "Session 2 of CBT"
SUD_TEXT = "alcohol treatment"
SHELTER = "Confidential shelter address"


@pytest.fixture
def settings(base_settings: Settings, nats_server: Any, tmp_path: Any) -> Settings:
    """The example registry: riverside-cmhc and riverside-psych are treating providers."""
    return with_partner_registry(base_settings, tmp_path).model_copy(
        update={"nats_url": nats_server.url})


@pytest.fixture
async def story(runtime: Runtime) -> AsyncIterator[Team]:
    """Client with a team (sw, housing advocate, benefits advocate), a housing consent, and
    every kind of sensitive fact."""
    team = Team(runtime)
    for step in ("client.registered", "care_team.member_added", "consent.recorded",
                 "client.contact_updated", "need.identified", "goal.set", "referral.made",
                 "screening.recorded", "risk_flag.raised", "diagnosis.recorded",
                 "medication.recorded", "psychotherapy_note.recorded",
                 "substance_use_treatment.recorded"):
        await team.ok(step)
    for member_id, role, org in (SW, BENEFITS):
        await team.ok("care_team.member_added", member_id=member_id, role=role,
                      organisation=org)
    await wait_projected(runtime, SW, lambda v: "benefits-advocate" in json.dumps(
        v.get("care_team")) and v.get("diagnoses"))
    yield team
    for client in team.clients.values():
        await client.close()


async def get(runtime: Runtime, who: tuple[str, str, str], path: str = "",
              **params: Any) -> httpx.Response:
    async with httpx.AsyncClient(base_url=runtime.http_url or "") as http:
        return await http.get(path or f"/clients/{CLIENT_ID}/care-plan", params=params,
                              headers=bearer(runtime.token_secret or "", *who))


async def wait_projected(runtime: Runtime, who: tuple[str, str, str], until: Any) -> dict[str, Any]:
    for _ in range(600):
        r = await get(runtime, who)
        if r.status_code == 200 and until(r.json()):
            return r.json()  # type: ignore[no-any-return]
        await asyncio.sleep(0.05)
    raise AssertionError(f"never projected: {r.status_code} {r.text[:300]}")


async def test_housing_advocate_sees_housing_only_and_no_clinical_picture(
    runtime: Runtime, story: Team
) -> None:
    view = (await get(runtime, HOUSING)).json()
    text = json.dumps(view)
    assert [g["domain"] for g in view["goals"].values()] == ["housing"]
    assert [r["to_service"] for r in view["referrals"]] == ["housing"]
    for forbidden in ("F32.1", "sertraline", "PHQ-9", NOTE_TEXT, SUD_TEXT, SHELTER,
                      "Passive suicidal"):
        assert forbidden not in text, forbidden
    assert view["safety_flag"] and "address" not in view["contact"]


async def test_benefits_advocate_without_consent_sees_no_domain_data(
    runtime: Runtime, story: Team
) -> None:
    view = (await get(runtime, BENEFITS)).json()
    assert view["consent_required"] and "goals" not in view and "needs" not in view
    assert view.get("referrals") == []


async def test_advocate_off_the_caseload_is_refused_as_if_the_client_did_not_exist(
    runtime: Runtime, story: Team
) -> None:
    stranger = ("ha-999", "housing-advocate", "harbor-housing")
    known = await get(runtime, stranger)
    unknown_id = uuid.uuid4()
    unknown = await get(runtime, stranger, f"/clients/{unknown_id}/care-plan")
    assert known.status_code == unknown.status_code == 404
    assert known.content == unknown.content


async def test_social_worker_sees_the_clinical_picture_but_no_notes_or_part2_data(
    runtime: Runtime, story: Team
) -> None:
    view = (await get(runtime, SW)).json()
    text = json.dumps(view)
    assert "F32.1" in text and "sertraline" in text and view["screenings"][0]["items"]
    assert SHELTER in text  # the clinical team may see the safe address
    assert NOTE_TEXT not in text and SUD_TEXT not in text
    assert "psychotherapy_notes" not in view and "substance_use" not in view


async def test_psychotherapy_notes_are_read_by_their_author_only(
    runtime: Runtime, story: Team
) -> None:
    path = f"/clients/{CLIENT_ID}/psychotherapy-notes"
    own = (await get(runtime, SW, path)).json()
    assert NOTE_TEXT in json.dumps(own)
    other = await get(runtime, PSY, path)
    assert NOTE_TEXT not in other.text
    assert (await get(runtime, COORD, path)).status_code == 403


async def test_coordinator_sees_summary_depth(runtime: Runtime, story: Team) -> None:
    view = (await get(runtime, COORD)).json()
    assert view["screening_trend"] == [{"instrument": "PHQ-9", "band": "moderate",
                                        "date": "2026-11-04"}]
    assert "screenings" not in view and "F32.1" not in json.dumps(view)
    assert view["diagnoses"][0]["display"].startswith("Major depressive")
    assert NOTE_TEXT not in json.dumps(view) and SUD_TEXT not in json.dumps(view)


async def test_break_glass_opens_the_restricted_record_for_a_while_and_is_recorded(
    runtime: Runtime, story: Team
) -> None:
    assert (await get(runtime, PSY)).status_code == 404  # not on this client's care team
    assert (await get(runtime, PSY, access="break-glass")).status_code == 403
    async with httpx.AsyncClient(base_url=runtime.http_url or "") as http:
        opened = await http.post(
            f"/clients/{CLIENT_ID}/break-glass", headers=bearer(runtime.token_secret or "", *PSY),
            json={"reason": "Client brought to A&E unresponsive; need medication history."})
        refused = await http.post(
            f"/clients/{CLIENT_ID}/break-glass",
            headers=bearer(runtime.token_secret or "", *HOUSING),
            json={"reason": "I would like to see everything please."})
    assert opened.status_code == 200 and refused.status_code == 403
    view = (await get(runtime, PSY, access="break-glass")).json()
    assert SUD_TEXT in json.dumps(view) and view["redisclosure_notice"]
    assert NOTE_TEXT not in json.dumps(view)  # never psychotherapy notes, not even now
    reads = await disclosures(runtime)
    emergency = [r for r in reads if r.purpose == "emergency"]
    assert emergency and "A&E" in (emergency[0].break_glass_reason or "")
    auditor = await wait_projected(runtime, AUDITOR, lambda v: v.get("break_glass"))
    assert auditor["break_glass"][0]["by"]["id"] == "psy-3307"


async def test_revoking_consent_removes_the_data_from_the_advocates_view(
    runtime: Runtime, story: Team
) -> None:
    assert (await get(runtime, HOUSING)).json()["goals"]
    await story.ok("consent.revoked", reason="Client no longer wants Harbor involved.")
    view = await wait_projected(runtime, HOUSING, lambda v: "consent_required" in v)
    assert "goals" not in view and view["referrals"] == []


async def disclosures(runtime: Runtime) -> list[ReadFact]:
    """The reads recorded so far, in the order they were committed (the read log)."""
    app = runtime.app
    assert app is not None
    return await asyncio.to_thread(lambda: list(ReadLog(app).reads()))


async def test_every_read_is_recorded_with_who_what_and_why(runtime: Runtime, story: Team) -> None:
    before = len(await disclosures(runtime))
    await get(runtime, HOUSING)
    await get(runtime, COORD, "/worklists/overdue-referrals", as_of="2026-12-01")
    refused = await get(runtime, ("ha-999", "housing-advocate", "harbor-housing"))
    reads = (await disclosures(runtime))[before:]
    assert refused.status_code == 404  # a refused read discloses nothing: no Disclosure
    assert [(r.viewer_id, r.view, r.purpose) for r in reads] == [
        ("ha-207", "care_plan.housing-advocate", "care-coordination"),
        ("co-5001", "worklist:overdue-referrals", "care-coordination")]
    assert all(str(r.client_id) == CLIENT_ID for r in reads)


async def test_the_same_queries_answer_over_nats_request_reply(
    runtime: Runtime, story: Team
) -> None:
    ehr = story.clients["riverside-ehr"]
    secret = runtime.token_secret or ""

    async def ask(query: str, **args: Any) -> dict[str, Any]:
        reply = await ehr.nc.request(f"careloop.query.{query}", json.dumps(args).encode(),
                                     timeout=10)
        return json.loads(reply.data)  # type: ignore[no-any-return]

    token = bearer(secret, *HOUSING)["Authorization"].split()[1]
    over_nats = await ask("care_plan", token=token, client_id=CLIENT_ID)
    over_http = (await get(runtime, HOUSING)).json()
    assert over_nats["status"] == 200 and over_nats["body"] == over_http
    assert (await ask("care_plan", token="forged", client_id=CLIENT_ID))["status"] == 401
    stranger = bearer(secret, "ha-999", "housing-advocate", "harbor-housing")
    assert (await ask("care_plan", token=stranger["Authorization"].split()[1],
                      client_id=CLIENT_ID))["status"] == 404
    coord = bearer(secret, *COORD)["Authorization"].split()[1]
    worklist = await ask("worklist", token=coord, name="overdue-referrals", as_of="2026-12-01")
    assert worklist["status"] == 200 and worklist["body"]["total"] == 1


async def test_coordinator_worklists_are_paginated_filterable_and_coordinator_only(
    runtime: Runtime, story: Team
) -> None:
    await story.ok("referral.made", referral_id=str(uuid.uuid4()))
    await story.ok("task.added")  # due 2026-11-09
    path = "/worklists/overdue-referrals"
    page = await wait_until(runtime, path, lambda w: w["total"] == 2, as_of="2026-12-01",
                            limit=1)
    assert len(page["items"]) == 1 and page["items"][0]["to_service"] == "housing"
    second = (await get(runtime, COORD, path, as_of="2026-12-01", limit=1, offset=1)).json()
    assert second["items"][0]["referral_id"] != page["items"][0]["referral_id"]
    early = (await get(runtime, COORD, path, as_of="2026-11-03")).json()
    assert early["total"] == 0  # requested on 11-03: not overdue yet
    other_party = (await get(runtime, COORD, path, as_of="2026-12-01", party="elsewhere")).json()
    assert other_party["total"] == 0
    actions = (await get(runtime, COORD, "/worklists/overdue-actions", as_of="2026-11-10")).json()
    assert [i["title"] for i in actions["items"]] == [
        "Gather income documents for the housing application"]
    assert (await get(runtime, COORD, "/worklists/high-risk")).json()["total"] == 0
    assert (await get(runtime, HOUSING, path)).status_code == 403
    assert (await get(runtime, COORD, "/worklists/nonsense")).status_code == 404
    assert date.fromisoformat(early["as_of"]) == date(2026, 11, 3)


async def wait_until(runtime: Runtime, path: str, until: Any, **params: Any) -> dict[str, Any]:
    for _ in range(600):
        r = await get(runtime, COORD, path, **params)
        if r.status_code == 200 and until(r.json()):
            return r.json()  # type: ignore[no-any-return]
        await asyncio.sleep(0.05)
    raise AssertionError(f"never: {r.status_code} {r.text[:300]}")


async def test_views_rebuilt_from_the_event_store_equal_the_live_views(
    runtime: Runtime, story: Team, tmp_path: Any
) -> None:
    await get(runtime, HOUSING)  # reads, too, are events: the rebuild must ignore them alike
    assert runtime.app is not None and runtime.views is not None
    for _ in range(600):
        head = await asyncio.to_thread(runtime.app.head_position)
        live_position = await asyncio.to_thread(runtime.views.position, "care_plan_v1")
        if live_position.store_position >= head:
            break
        await asyncio.sleep(0.05)
    rebuilt = SQLiteViewStore(tmp_path / "rebuilt.sqlite3")
    try:
        await asyncio.to_thread(project, runtime.app, rebuilt, None)
        full = rebuilt.get(care_plan.VIEW, CLIENT_ID)
        assert full == await asyncio.to_thread(runtime.views.get, care_plan.VIEW, CLIENT_ID)
        assert full is not None
        derived = derive(CLIENT_ID, full).docs
        assert {v for v, _, _ in derived} >= {  # no psychiatrist on this team: no such view
            NOTES_VIEW, *(role_views.view_name(r) for r in role_views.ROLE_VIEWS
                          if r != role_views.PSYCHIATRIST)}
        for name, key, _ in derived:
            live = await asyncio.to_thread(runtime.views.get, name, key)
            assert live is not None
            assert rebuilt.get(name, key) == live, f"{name}/{key}"
    finally:
        rebuilt.close()


async def test_a_break_glass_reason_careloop_cannot_store_is_refused_with_422(
    runtime: Runtime, story: Team
) -> None:
    """The same input limits as over NATS: a NUL (which PostgreSQL cannot hold), a repeated
    key or a hostile nesting is refused before anything is recorded."""
    assert runtime.app is not None
    head = await asyncio.to_thread(runtime.app.head_position)
    url = f"/clients/{CLIENT_ID}/break-glass"
    auth = {**bearer(runtime.token_secret or "", *PSY), "Content-Type": "application/json"}
    hostile = {
        "unstorable_character": json.dumps(
            {"reason": "Client unresponsive in A&E\u0000; need medication history."}),
        "duplicate_key": '{"reason": "Client unresponsive in A&E, need history.", "reason": "x"}',
        "too_deep": '{"reason": ' + "[" * 50_000 + "]" * 50_000 + "}",
    }
    async with httpx.AsyncClient(base_url=runtime.http_url or "") as http:
        for code, body in hostile.items():
            r = await http.post(url, headers=auth, content=body.encode())
            assert r.status_code == 422, (code, r.text)
            assert r.json()["detail"][0]["type"] == code
    assert await asyncio.to_thread(runtime.app.head_position) == head  # nothing recorded
    assert (await runtime.health()).status == "ok"
