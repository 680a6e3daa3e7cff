"""The feed never holds a field its role's view does not, at any moment of generated
histories: after every event, each feed message is compared with the view the projector
derives for that role (the same derivation the API serves), and with the policy's oracle."""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings

from projections import care_plan, care_plan_derived, role_views
from projections.partner_feed import message, relationships, views_for
from services.api.access_tokens import Caller
from services.relay.outbound_events import is_published, to_outbound
from services.settings import Settings
from services.store.care_app import CareLoop, create_care_app
from services.store.event_store_config import eventsourcing_env
from tests.integration.test_view_leakage_properties import (
    ALL_ORGS,
    check,
    history_st,
    write_history,
)

ORGANISATIONS = set(ALL_ORGS) | {"org-elsewhere"}


@pytest.fixture
def app(base_settings: Settings) -> Iterator[CareLoop]:
    store = create_care_app(eventsourcing_env(base_settings))
    yield store
    store.close()


def leaves(doc: Any, path: str = "") -> set[str]:
    """Every leaf of a document as path=value."""
    if isinstance(doc, dict):
        return set().union(*(leaves(v, f"{path}.{k}") for k, v in doc.items())) if doc else {
            f"{path}={{}}"}
    if isinstance(doc, list):
        return set().union(*(leaves(v, f"{path}[{i}]") for i, v in enumerate(doc))) if doc else {
            f"{path}=[]"}
    return {f"{path}={json.dumps(doc, default=str)}"}


def served_view(derived: list[tuple[str, str, Any]], role: str, org: str, cid: str) -> Any:
    """The view the projector writes for this role (keyed by client, or by client and
    organisation where views are kept per organisation)."""
    name = role_views.view_name(role)
    found = [doc for view, key, doc in derived
             if view == name and key in (cid, f"{cid}@{org}")]
    assert len(found) == 1, (name, org, [k for v, k, _ in derived if v == name])
    return found[0]


def outbound_events(app: CareLoop, cid: str) -> list[dict[str, Any]]:
    from eventsourcing.domain import Aggregate

    def client_of(aggregate_id: uuid.UUID) -> uuid.UUID | None:
        return getattr(app.find(aggregate_id, Aggregate), "client_id", None)

    out = []
    for note in app.recorder.select_notifications(1, 1_000_000):
        if is_published(note.topic):
            event = to_outbound(app.mapper.to_domain_event(note), note.id, client_of)
            if str(event.client_id) == cid:
                out.append(json.loads(event.model_dump_json()))
    return out


@settings(max_examples=20, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(h=history_st)
def test_the_feed_never_holds_a_field_its_roles_view_does_not(
    app: CareLoop, h: dict[str, Any],
) -> None:
    cid = str(uuid.uuid4())
    tag = uuid.uuid4().hex[:8]
    marks = {k: f"{k.upper()}-{tag}" for k in ("address", "goal", "sud", "note", "diagnosis",
                                               "flag")}
    if h["note"]:  # the note's author: the custodian's social worker, on the team
        h = {**h, "team": [("clinical-social-worker", 0), *h["team"]]}
    write_history(app, cid, h, marks)
    full: dict[str, Any] | None = None
    messages = 0
    feeds: dict[tuple[str, str], dict[str, Any]] = {}
    for event in outbound_events(app, cid):
        for key in care_plan.keys_of(event):
            full = care_plan.apply(full, event, key)
        assert full is not None
        derived = care_plan_derived.derive(cid, full).docs
        team = {(m["organisation"], m["role"]) for m in full.get("care_team", {}).values()}
        feeds = views_for(full, ORGANISATIONS)
        assert set(feeds) == relationships(full, ORGANISATIONS) <= team
        for (org, role), view in feeds.items():
            sent = message(org, role, cid, view)
            served = served_view(derived, role, org, cid)
            assert leaves(sent["view"]) <= leaves(served), f"{org}/{role} feed exceeds its view"
            assert marks["note"] not in json.dumps(sent)
            messages += 1
    # At the end of the history, the policy's own oracle judges every feed as it would the
    # same (role, organisation) reading through the API.
    for (org, role), view in feeds.items():
        check(h, Caller(f"{org}-feed", role, org), care_plan.as_response(view), marks)
    assert messages >= len(feeds)
