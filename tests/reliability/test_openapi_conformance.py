"""The OpenAPI document tells the truth: schemathesis, with all its checks (status codes,
content types, headers and bodies against the documented schemas, negative data refused,
positive data accepted, authentication not ignored), finds no failure on a care story with
real data, for every role. Bounded budget; in-process over ASGI."""

from __future__ import annotations

import os
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import schemathesis
from fastapi import FastAPI
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from schemathesis import GenerationMode
from schemathesis.core.parameters import ParameterLocation

from contracts.v1.catalogue import MESSAGE_TYPES
from projections.view_store import SQLiteViewStore
from services.api.care_queries import CareQueries
from services.api.disclosure_recorder import DisclosureRecorder
from services.api.http_app import HealthProbe, authenticator, create_http_app
from services.audit.http_routes import create_audit_router
from services.commands.registry import execute
from services.settings import Settings
from services.store.care_app import create_care_app
from tests.helpers import CLIENT_ID, bearer, message
from tests.integration.test_fhir_export import STORY
from tests.rebuild import project
from tests.reliability.conftest import Figures

EXAMPLES = int(os.environ.get("CARELOOP_CONFORMANCE_EXAMPLES", "400"))
"""The suite's bounded budget; set the variable for a longer hunt."""
SECRET = "conformance-secret-" * 3
PEOPLE = (("sw-1042", "clinical-social-worker", "riverside-cmhc"),
          ("psy-3307", "psychiatrist", "riverside-cmhc"),
          ("ha-207", "housing-advocate", "harbor-housing"),
          ("co-5001", "coordinator", "riverside-cmhc"),
          ("au-1", "auditor", "riverside-cmhc"))


async def healthy() -> HealthProbe:
    return HealthProbe(status="ok", nats={"connected": True}, store={"ok": True, "head": 0},
                       relay={"lag": 0}, projection={"lag": 0})


@pytest.fixture
def api(tmp_path: Path) -> Iterator[FastAPI]:
    s = Settings(data_dir=tmp_path, sqlite_path=tmp_path / "events.sqlite3")
    app = create_care_app({"PERSISTENCE_MODULE": "eventsourcing.sqlite",
                           "SQLITE_DBNAME": str(s.sqlite_path)})
    views = SQLiteViewStore(tmp_path / "views.sqlite3")
    for step in STORY:
        execute(app, MESSAGE_TYPES[step].model_validate(message(step)))
    for member_id, role, organisation in PEOPLE[:2]:  # the clinicians join the team
        execute(app, MESSAGE_TYPES["care_team.member_added"].model_validate(message(
            "care_team.member_added", member_id=member_id, role=role,
            organisation=organisation)))
    project(app, views)
    recorder = DisclosureRecorder(app)
    queries = CareQueries(app, views, recorder)
    audit = create_audit_router(app, s, authenticator(SECRET, "careloop", recorder), queries)
    yield create_http_app(queries, SECRET, healthy, audit_router=audit)
    views.close()
    app.close()


def test_schemathesis_finds_no_failure_with_all_checks(api: FastAPI, figures: Figures) -> None:
    schema = schemathesis.openapi.from_asgi("/openapi.json", api)
    operations = [result.ok() for result in schema.get_all_operations()]
    people = [bearer(SECRET, *who)["Authorization"] for who in PEOPLE]
    tokens = [None, "Bearer forged.token.value", *people, *people, *people]
    requests = st.one_of([op.as_strategy(generation_mode=mode) for op in operations
                          for mode in (GenerationMode.POSITIVE, GenerationMode.NEGATIVE)])
    statuses: Counter[int] = Counter()
    failures: Counter[str] = Counter()
    answered: Counter[str] = Counter()

    @settings(max_examples=EXAMPLES, deadline=None, database=None,
              suppress_health_check=list(HealthCheck))
    @given(case=requests, token=st.sampled_from(tokens), known=st.sampled_from([True, True, True, False]))
    def call(case: Any, token: str | None, known: bool) -> None:
        headers = {"Authorization": token} if token is not None else None
        components = case.meta.components if case.meta is not None else {}
        header = components.get(ParameterLocation.HEADER)
        if header is not None and header.mode == GenerationMode.NEGATIVE:
            headers = None  # the case itself is about a missing or broken header
        positive = case.meta is None or case.meta.generation.mode == GenerationMode.POSITIVE
        if known and positive and "client_id" in (case.path_parameters or {}):
            case.path_parameters = {**case.path_parameters, "client_id": CLIENT_ID}
        try:
            response = case.call_and_validate(headers=headers)
            statuses[response.status_code] += 1
            if response.status_code == 200:
                answered[case.operation.path] += 1
        except BaseException as failure:  # a schemathesis FailureGroup: collect, then report
            if isinstance(failure, KeyboardInterrupt):
                raise
            failures[f"{case.method} {case.operation.path}: {str(failure)[:400]}"] += 1

    call()
    # and every role's real answer, validated the same way (not left to chance)
    by_role: Counter[str] = Counter()
    for op in operations:
        if op.path not in ("/clients/{client_id}/care-plan", "/clients/{client_id}/fhir"):
            continue
        for token in people:
            case = op.Case(path_parameters={"client_id": CLIENT_ID})
            try:
                response = case.call_and_validate(headers={"Authorization": token})
                statuses[response.status_code] += 1
                by_role[op.path] += response.status_code == 200
            except BaseException as failure:
                if isinstance(failure, KeyboardInterrupt):
                    raise
                failures[f"{op.path} as a role: {str(failure)[:400]}"] += 1
    figures("openapi_conformance", {"operations": len(operations),
                                    "requests_ok": sum(statuses.values()),
                                    "statuses": dict(sorted(statuses.items())),
                                    "operations_answered_200": len(answered),
                                    "failures": sum(failures.values())})
    assert dict(failures) == {}
    assert {200, 401, 403} <= set(statuses)
    # real bodies were checked against their schemas, not only refusals
    assert by_role == {"/clients/{client_id}/care-plan": len(PEOPLE),
                       "/clients/{client_id}/fhir": len(PEOPLE)}, by_role
