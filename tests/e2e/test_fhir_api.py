"""``GET /clients/{id}/fhir``, the NATS query and ``careloop fhir``: the caller's own view as
a FHIR Bundle, with the care plan's checks and its recorded read. Real nats-server, both
stores."""

from __future__ import annotations

import asyncio
import json
import uuid

import httpx
from fhir.resources.R4B.bundle import Bundle

from services.cli.fhir import ask
from services.fhir.bundle import unresolved
from services.runtime import Runtime
from tests.e2e.test_care_story import Team
from tests.e2e.test_role_views import HOUSING, SW, disclosures, get, story
from tests.helpers import CLIENT_ID, bearer

__all__ = ["story"]  # the care story fixture, shared with the role-view tests

FHIR_PATH = f"/clients/{CLIENT_ID}/fhir"


async def test_fhir_bundle_is_the_callers_view_with_the_same_read_record(
    runtime: Runtime, story: Team
) -> None:
    before = len(await disclosures(runtime))
    answer = await get(runtime, SW, FHIR_PATH)
    assert answer.status_code == 200, answer.text
    assert answer.headers["content-type"].startswith("application/fhir+json")
    bundle = answer.json()
    Bundle.model_validate(bundle)
    assert unresolved(bundle) == []
    kinds = {e["resource"]["resourceType"] for e in bundle["entry"]}
    assert {"Patient", "CarePlan", "Condition", "Observation", "ServiceRequest"} <= kinds
    housing = (await get(runtime, HOUSING, FHIR_PATH)).json()
    housing_kinds = {e["resource"]["resourceType"] for e in housing["entry"]}
    assert not housing_kinds & {"Observation", "MedicationStatement", "RiskAssessment"}
    reads = (await disclosures(runtime))[before:]
    assert [(r.viewer_id, r.view) for r in reads] == [
        ("sw-1042", "care_plan.clinical-social-worker"),
        ("ha-207", "care_plan.housing-advocate")]


async def test_fhir_refusals_are_the_care_plans_and_reveal_nothing(
    runtime: Runtime, story: Team
) -> None:
    stranger = ("ha-999", "housing-advocate", "harbor-housing")
    known = await get(runtime, stranger, FHIR_PATH)
    unknown = await get(runtime, stranger, f"/clients/{uuid.uuid4()}/fhir")
    as_json = await get(runtime, stranger)  # the care plan's own refusal
    assert as_json.status_code in (403, 404)
    assert known.status_code == unknown.status_code == as_json.status_code
    assert known.json() == unknown.json() == as_json.json()
    async with httpx.AsyncClient(base_url=runtime.http_url or "") as http:
        assert (await http.get(FHIR_PATH)).status_code == 401


async def test_fhir_over_nats_and_the_cli_query_give_the_same_bundle(
    runtime: Runtime, story: Team
) -> None:
    token = bearer(runtime.token_secret or "", *HOUSING)["Authorization"].split()[1]
    over_http = (await get(runtime, HOUSING, FHIR_PATH)).json()
    over_nats = await ask(runtime.nats_url, {"token": token, "client_id": CLIENT_ID}, 10)
    assert over_nats["status"] == 200

    def entries(b: dict[str, object]) -> str:
        return json.dumps(b["entry"], sort_keys=True)

    assert entries(over_nats["body"]) == entries(over_http)
    assert (await ask(runtime.nats_url, {"token": "forged", "client_id": CLIENT_ID},
                      10))["status"] == 401


async def test_careloop_fhir_prints_the_callers_bundle_and_refuses_as_the_api_does(
    runtime: Runtime, story: Team
) -> None:
    from typer.testing import CliRunner

    from services.cli.main import app

    token = bearer(runtime.token_secret or "", *HOUSING)["Authorization"].split()[1]
    env = {"NATS_URL": runtime.nats_url, "CARELOOP_TOKEN": token}
    runner = CliRunner()
    done = await asyncio.to_thread(runner.invoke, app, ["fhir", CLIENT_ID], env=env)
    assert done.exit_code == 0, done.output
    # the runtime runs in this process and may log to the same captured stdout: the Bundle
    # is the JSON document that starts on a line of its own
    bundle = json.loads(done.stdout[done.stdout.index("{\n"):])
    Bundle.model_validate(bundle)
    assert {e["resource"]["resourceType"] for e in bundle["entry"]} >= {"Patient", "CarePlan"}
    stranger = bearer(runtime.token_secret or "", "ha-999", "housing-advocate",
                      "harbor-housing")["Authorization"].split()[1]
    refused = await asyncio.to_thread(runner.invoke, app, ["fhir", CLIENT_ID],
                                      env={**env, "CARELOOP_TOKEN": stranger})
    over_http = await get(runtime, ("ha-999", "housing-advocate", "harbor-housing"))
    assert refused.exit_code == 1
    assert f"{over_http.status_code}: {over_http.json()['detail']}" in refused.output
