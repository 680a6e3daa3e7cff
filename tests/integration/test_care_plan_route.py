"""The care-plan route reads its token, purpose and access itself (for speed): it must answer
exactly as declared parameters would (its fast path too, `services.api.fast_route`), and its
OpenAPI description must still say so."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest

from projections.view_store import SQLiteViewStore
from services.api.care_queries import CareQueries
from services.api.disclosure_recorder import DisclosureRecorder
from services.api.http_app import HealthProbe, create_http_app
from services.store.care_app import create_care_app
from tests.helpers import bearer

SECRET = "route-secret-" * 4
PATH = f"/clients/{uuid.uuid4()}/care-plan"


async def healthy() -> HealthProbe:
    return HealthProbe(status="ok", nats={}, store={}, relay={}, projection={})


@pytest.fixture
async def http(tmp_path: Path) -> AsyncIterator[httpx.AsyncClient]:
    views = SQLiteViewStore(tmp_path / "views.sqlite3")
    app = create_care_app({"PERSISTENCE_MODULE": "eventsourcing.sqlite",
                           "SQLITE_DBNAME": str(tmp_path / "events.sqlite3")})
    api = create_http_app(CareQueries(app, views, DisclosureRecorder(app)), SECRET, healthy)
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=api),
                                 base_url="http://careloop") as client:
        yield client
    views.close()
    app.close()


async def test_no_or_a_bad_token_is_401_before_anything_else(http: httpx.AsyncClient) -> None:
    for headers in ({}, {"Authorization": "Bearer nonsense"}, {"Authorization": "Basic x"}):
        r = await http.get(PATH, headers={**headers, "X-Careloop-Purpose": "gossip"})
        assert r.status_code == 401 and r.headers["www-authenticate"] == "Bearer"


async def test_a_bad_purpose_or_access_is_422_like_a_declared_parameter(
    http: httpx.AsyncClient,
) -> None:
    who = bearer(SECRET, "co-1", "coordinator", "riverside-cmhc")
    r = await http.get(PATH, headers={**who, "X-Careloop-Purpose": "gossip"})
    assert r.status_code == 422
    assert r.json()["detail"][0]["loc"] == ["header", "X-Careloop-Purpose"]
    r = await http.get(PATH, headers=who, params={"access": "everything"})
    assert r.status_code == 422 and r.json()["detail"][0]["loc"] == ["query", "access"]
    r = await http.get(PATH, headers={**who, "X-Careloop-Purpose": "treatment"})
    assert r.status_code == 403  # a valid purpose, not the coordinator's
    r = await http.get(PATH, headers=who)
    assert r.status_code == 404  # nothing known about this client, said the same way


async def test_the_openapi_description_keeps_the_parameters(http: httpx.AsyncClient) -> None:
    operation = (await http.get("/openapi.json")).json()["paths"][
        "/clients/{client_id}/care-plan"]["get"]
    names = {(p["in"], p["name"]) for p in operation["parameters"]}
    assert names == {("path", "client_id"), ("header", "X-Careloop-Purpose"),
                     ("query", "access")}
    assert operation["security"] == [{"HTTPBearer": []}]


async def test_the_fast_path_answers_as_the_fastapi_route_behind_it(
    http: httpx.AsyncClient,
) -> None:
    # Each request is answered by the fast path, then again with the fast path taken out
    # (FastAPI's route alone): the answers must be the same.
    client = uuid.uuid4()
    who = bearer(SECRET, "co-1", "coordinator", "riverside-cmhc")
    cases = [(str(client), {}, {}), (str(client), {**who, "X-Careloop-Purpose": "gossip"}, {}),
             (str(client), who, {"access": "everything"}),
             (str(client), {**who, "X-Careloop-Purpose": "treatment"}, {}),
             (str(client), who, {}), (client.hex.upper(), who, {"access": "break-glass"})]
    api = http._transport.app  # type: ignore[attr-defined]
    fast_route = api.router.routes[0]
    answers = []
    for routes in (api.router.routes, api.router.routes[1:]):
        api.router.routes = routes
        answers.append([await http.get(f"/clients/{cid}/care-plan", headers=headers,
                                       params=params) for cid, headers, params in cases])
    assert [(r.status_code, r.json()) for r in answers[0]] == [
        (r.status_code, r.json()) for r in answers[1]]
    assert [r.status_code for r in answers[0]] == [401, 422, 422, 403, 404, 403]  # no grant
    scope = {"type": "http", "method": "GET", "path": f"/clients/{client}/care-plan",
             "query_string": b"access=break-glass"}
    assert fast_route.matches(scope)[0].name == "FULL"
    for other in ({"path": "/clients/not-a-uuid/care-plan"}, {"method": "HEAD"},
                  {"query_string": b"as_of=2026-01-01"},
                  {"query_string": b"access=break-glass&access=break-glass"}):
        assert fast_route.matches({**scope, **other})[0].name == "NONE"


async def test_what_the_fast_path_leaves_is_refused_as_before(http: httpx.AsyncClient) -> None:
    who = bearer(SECRET, "co-1", "coordinator", "riverside-cmhc")
    r = await http.get(PATH, headers=who, params={"as_of": "2026-01-01"})
    assert r.status_code == 422 and r.json()["detail"][0]["loc"] == ["query", "as_of"]
    r = await http.get("/clients/not-a-uuid/care-plan", headers=who)
    assert r.status_code == 422 and r.json()["detail"][0]["loc"] == ["path", "client_id"]
    assert (await http.head(PATH, headers=who)).status_code == 405
