"""A store that is away mid-request gets 503 (documented), not a server error; nothing is
served without its read being recorded."""

from __future__ import annotations

from pathlib import Path

import httpx

from projections.view_store import SQLiteViewStore
from services.api.care_queries import CareQueries
from services.api.disclosure_recorder import DisclosureRecorder
from services.api.http_app import HealthProbe, create_http_app
from services.store.care_app import create_care_app
from tests.helpers import CLIENT_ID, bearer

SECRET = "unavailable-secret-" * 3


async def healthy() -> HealthProbe:
    return HealthProbe(status="ok", nats={}, store={}, relay={}, projection={})


async def test_a_view_store_gone_away_answers_503_for_json_and_fhir(tmp_path: Path) -> None:
    app = create_care_app({"PERSISTENCE_MODULE": "eventsourcing.sqlite",
                           "SQLITE_DBNAME": str(tmp_path / "events.sqlite3")})
    views = SQLiteViewStore(tmp_path / "views.sqlite3")
    api = create_http_app(CareQueries(app, views, DisclosureRecorder(app)), SECRET, healthy)
    views.close()  # the store is away
    try:
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=api),
                                     base_url="http://careloop") as http:
            for path in ("care-plan", "fhir"):
                answer = await http.get(f"/clients/{CLIENT_ID}/{path}",
                                  headers=bearer(SECRET, "co-5001", "coordinator",
                                                 "riverside-cmhc"))
                assert answer.status_code == 503, answer.text
                assert answer.json() == {"detail": "temporarily unavailable; try again"}
            assert "503" in (await http.get("/openapi.json")).json()["paths"][
                "/clients/{client_id}/care-plan"]["get"]["responses"]
    finally:
        app.close()
