"""The HTTP API, fuzzed from its own OpenAPI description (schemathesis strategies, called
in-process over ASGI, valid and invalid requests alike): whatever the path, headers and
parameters, it never answers with a server error."""

from __future__ import annotations

from collections import Counter
from pathlib import Path
from typing import Any

import schemathesis
from hypothesis import given, settings
from hypothesis import strategies as st
from schemathesis import GenerationMode

from projections.view_store import SQLiteViewStore
from services.api.care_queries import CareQueries
from services.api.disclosure_recorder import DisclosureRecorder
from services.api.http_app import HealthProbe, create_http_app
from services.store.care_app import create_care_app
from tests.helpers import bearer
from tests.reliability.conftest import Figures

EXAMPLES = 400


async def healthy() -> HealthProbe:
    return HealthProbe(status="ok", nats={"connected": True}, store={"ok": True, "head": 0},
                       relay={"lag": 0}, projection={"lag": 0})


def test_no_request_makes_the_api_fail(tmp_path: Path, figures: Figures) -> None:
    views = SQLiteViewStore(tmp_path / "views.sqlite3")
    app = create_care_app({"PERSISTENCE_MODULE": "eventsourcing.sqlite",
                           "SQLITE_DBNAME": str(tmp_path / "events.sqlite3")})
    queries = CareQueries(app, views, DisclosureRecorder(app))
    secret = "fuzz-secret-" * 4
    tokens = [None, *(bearer(secret, *who)["Authorization"] for who in (
        ("co-1", "coordinator", "org"), ("ha-1", "housing-advocate", "org"),
        ("au-1", "auditor", "org"), ("psy-1", "psychiatrist", "org")))]
    schema = schemathesis.openapi.from_asgi("/openapi.json",
                                            create_http_app(queries, secret, healthy))
    operations = [result.ok() for result in schema.get_all_operations()]
    requests = st.one_of([
        op.as_strategy(generation_mode=mode)
        for op in operations for mode in (GenerationMode.POSITIVE, GenerationMode.NEGATIVE)])
    statuses: Counter[int] = Counter()
    server_errors: list[str] = []

    @settings(max_examples=EXAMPLES, deadline=None, database=None)
    @given(case=requests, token=st.sampled_from(tokens))
    def call(case: Any, token: str | None) -> None:
        if token is not None:
            case.headers = {**(case.headers or {}), "Authorization": token}
        response = case.call()
        statuses[response.status_code] += 1
        if response.status_code >= 500:
            server_errors.append(f"{case.method} {case.formatted_path}: {response.text[:200]}")

    try:
        call()
    finally:
        views.close()
        app.close()
    figures("http_api_fuzz", {"operations": len(operations),
                              "requests_tried": sum(statuses.values()),
                              "statuses": dict(sorted(statuses.items())),
                              "server_errors": len(server_errors)})
    assert server_errors == []
    assert {op.label for op in operations} >= {"GET /health", "GET /clients/{client_id}/care-plan"}
    assert {200, 401, 403, 422} <= set(statuses)
