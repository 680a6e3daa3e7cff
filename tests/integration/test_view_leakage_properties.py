"""No answer ever holds what the policy forbids its reader, and every answer holds what the
policy grants, for generated histories spanning several organisations per role, written
through the real stores (SQLite and PostgreSQL): the store, the outbound translation, the
projection, the per-(role, organisation) rendering, the view store and the query layer that
HTTP and NATS share (scope, caseload, recorded reads).

Each history has two organisations (or more) per role, a care team drawn from them, consents
naming some roles and some organisations (permits and denies, Part 2 or not, some revoked),
and every kind of sensitive fact. Every (role, organisation, user) then reads, including
people who reuse a team member's id from another organisation or role. The oracle below is
written from the policy's words, independently of the code under test.
"""

from __future__ import annotations

import asyncio
import json
import uuid
from collections.abc import Iterator
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from contracts.v1.catalogue import MESSAGE_TYPES
from projections.view_store import ViewStore
from services.api.access_tokens import Caller
from services.api.care_queries import CareQueries, QueryRefused
from services.api.disclosure_recorder import DisclosureRecorder
from services.commands.registry import execute
from services.settings import Settings
from services.store.care_app import CareLoop, create_care_app
from services.store.event_store_config import eventsourcing_env
from services.store.view_stores import open_view_store
from tests.helpers import message
from tests.rebuild import project

CUSTODIAN = "riverside-cmhc"  # the examples' actor registers the client
ORGS = {
    "clinical-social-worker": [CUSTODIAN, "eastside-cmhc"],
    "psychiatrist": ["riverside-psych", "valley-psych"],
    "housing-advocate": ["harbor-housing", "bayside-housing"],
    "benefits-advocate": ["county-benefits", "city-benefits"],
    "coordinator": [CUSTODIAN, "eastside-cmhc", "bayside-housing"],
    "auditor": [CUSTODIAN, "harbor-housing", "state-oversight"],
}
AUTHOR = {"id": "u-clinical", "role": "clinical-social-worker", "organisation": CUSTODIAN}
TEAM_ROLES = list(ORGS)[:5]
CLINICIANS = ("clinical-social-worker", "psychiatrist")
ADVOCATE_DOMAIN = {"housing-advocate": "housing", "benefits-advocate": "benefits"}
PURPOSE = {"clinical-social-worker": "treatment", "psychiatrist": "treatment"}
ALL_ORGS = sorted({o for orgs in ORGS.values() for o in orgs})
CATEGORIES = ["housing", "benefits", "clinical", "psychiatric", "substance-use",
              "conference-minutes"]


@pytest.fixture
def stores(base_settings: Settings) -> Iterator[tuple[CareLoop, ViewStore]]:
    app = create_care_app(eventsourcing_env(base_settings))
    views = open_view_store(base_settings)
    yield app, views
    views.close()
    app.close()


member_st = st.tuples(st.sampled_from(TEAM_ROLES), st.integers(0, 1))
consent_st = st.fixed_dictionaries({
    "roles": st.lists(st.sampled_from(TEAM_ROLES), max_size=2, unique=True),
    "orgs": st.lists(st.sampled_from(ALL_ORGS), max_size=2, unique=True),
    "categories": st.lists(st.sampled_from(CATEGORIES), min_size=1, max_size=3, unique=True),
    "deny": st.booleans(),
    "part2": st.booleans(),
    "revoked": st.booleans(),
})
history_st = st.fixed_dictionaries({
    "team": st.lists(member_st, min_size=1, max_size=5, unique=True),
    "consents": st.lists(consent_st, max_size=4),
    "confidential_address": st.booleans(),
    "goal_domains": st.lists(st.sampled_from(["clinical", "housing", "benefits",
                                              "psychosocial"]), max_size=3, unique=True),
    "sud_episode": st.booleans(),
    "note": st.booleans(),
    "clinical": st.booleans(),
    "flag": st.booleans(),
})


def post(app: CareLoop, message_type: str, actor: dict[str, str] | None = None,
         **payload: Any) -> None:
    m = message(message_type, **payload)
    if actor:  # otherwise the example's own actor, the custodian's staff
        m["actor"] = actor
    execute(app, MESSAGE_TYPES[message_type].model_validate(m))


def team_of(h: dict[str, Any]) -> list[tuple[str, str, str]]:
    """(member id, role, organisation); ids are reused across organisations on purpose."""
    return [(f"u-{role.split('-')[0]}", role, ORGS[role][i]) for role, i in h["team"]]


def valid(c: dict[str, Any]) -> bool:
    """The consents the domain accepts (its refusals have their own tests)."""
    if not c["roles"] and not c["orgs"]:
        return False
    if c["part2"] and not c["orgs"]:
        return False  # a Part 2 consent names organisations
    sud_permit = "substance-use" in c["categories"] and not c["deny"]
    return not sud_permit or c["part2"]


def write_history(app: CareLoop, cid: str, h: dict[str, Any], marks: dict[str, str]) -> None:
    post(app, "client.registered", client_id=cid)
    seen: set[str] = set()
    for member_id, role, org in team_of(h):
        if member_id in seen:
            continue  # one membership per id on one team (the domain's rule)
        seen.add(member_id)
        post(app, "care_team.member_added", client_id=cid, member_id=member_id, role=role,
             organisation=org)
    for c in filter(valid, h["consents"]):
        consent_id = str(uuid.uuid4())
        post(app, "consent.recorded", client_id=cid, consent_id=consent_id,
             provision="deny" if c["deny"] else "permit", recipient_roles=c["roles"],
             recipient_organisations=c["orgs"], purposes=["treatment", "care-coordination"],
             data_categories=c["categories"], part2=c["part2"], period_end=None)
        if c["revoked"]:
            post(app, "consent.revoked", client_id=cid, consent_id=consent_id, reason="withdrawn")
    post(app, "client.contact_updated", client_id=cid, address=marks["address"],
         address_confidential=h["confidential_address"])
    for domain in h["goal_domains"]:
        post(app, "goal.set", client_id=cid, goal_id=str(uuid.uuid4()), domain=domain,
             description=f"{marks['goal']} {domain}", need_id=None)
    if h["sud_episode"]:
        post(app, "substance_use_treatment.recorded", client_id=cid,
             episode_id=str(uuid.uuid4()), summary=marks["sud"])
    if h["note"]:
        post(app, "psychotherapy_note.recorded", AUTHOR, client_id=cid,
             note_id=str(uuid.uuid4()), text=marks["note"])
    if h["clinical"]:
        post(app, "diagnosis.recorded", client_id=cid, diagnosis_id=str(uuid.uuid4()),
             display=marks["diagnosis"])
        post(app, "screening.recorded", client_id=cid, screening_id=str(uuid.uuid4()))
    if h["flag"]:
        post(app, "risk_flag.raised", client_id=cid, flag_id=str(uuid.uuid4()),
             reason=marks["flag"], level="high")


# -- the oracle ----------------------------------------------------------------------------

def members(h: dict[str, Any]) -> list[tuple[str, str, str]]:
    out, seen = [], set()
    for m in team_of(h):
        if m[0] not in seen:
            seen.add(m[0])
            out.append(m)
    return out


def in_scope(h: dict[str, Any], who: Caller) -> bool:
    if who.role in ("coordinator", "auditor"):
        return who.organisation == CUSTODIAN or any(o == who.organisation
                                                   for _, _, o in members(h))
    return (who.user, who.role, who.organisation) in members(h)


def names(c: dict[str, Any], who: Caller) -> bool:
    role_ok = not c["roles"] or who.role in c["roles"]
    org_ok = not c["orgs"] or who.organisation in c["orgs"]
    if c["part2"] and who.organisation not in c["orgs"]:
        return False
    return role_ok and org_ok


def in_force(h: dict[str, Any], who: Caller, category: str, deny: bool,
             part2: bool = False) -> bool:
    return any(valid(c) and not c["revoked"] and c["deny"] == deny and category in c["categories"]
               and (c["part2"] or not part2) and names(c, who) for c in h["consents"])


def closed(h: dict[str, Any], who: Caller, category: str) -> bool:
    return in_force(h, who, category, deny=True)


def opened(h: dict[str, Any], who: Caller, category: str, part2: bool = False) -> bool:
    return in_force(h, who, category, False, part2) and not closed(h, who, category)


def check(h: dict[str, Any], who: Caller, body: dict[str, Any], marks: dict[str, str]) -> None:
    text = json.dumps(body)
    label = f"{who.role}@{who.organisation}/{who.user}"
    assert marks["note"] not in text, f"{label} sees a psychotherapy note"
    sud = who.role != "auditor" and opened(h, who, "substance-use", part2=True)
    if h["sud_episode"]:
        assert (marks["sud"] in text) == sud, f"{label}: Part 2 data shown={not sud}"
    clinical_team = who.role in (*CLINICIANS, "coordinator")
    if h["clinical"]:
        psy = clinical_team and not closed(h, who, "psychiatric")
        assert (marks["diagnosis"] in text) == psy, f"{label}: diagnosis shown={not psy}"
        assert ('"items"' in text) == (psy and who.role in CLINICIANS), f"{label}: PHQ items"
    if h["flag"]:
        reason = clinical_team and not closed(h, who, "clinical")
        assert (marks["flag"] in text) == reason, f"{label}: risk reason shown={not reason}"
        if who.role in ADVOCATE_DOMAIN:
            assert body["safety_flag"], f"{label}: no safety flag"
    address = clinical_team or (who.role in ADVOCATE_DOMAIN and not h["confidential_address"])
    assert (marks["address"] in text) == address, f"{label}: address shown={not address}"
    for domain in h["goal_domains"]:
        goal = f"{marks['goal']} {domain}"
        if who.role in ADVOCATE_DOMAIN:
            shown = domain == ADVOCATE_DOMAIN[who.role] and opened(h, who, domain)
        elif who.role == "auditor":
            shown = True
        else:
            shown = not (domain in ("housing", "benefits", "clinical") and closed(h, who, domain))
        assert (goal in text) == shown, f"{label}: goal {domain} shown={not shown}"
    if who.role in ADVOCATE_DOMAIN:
        roles = {m["role"] for m in body["care_team"].values()}
        assert roles <= {"coordinator", who.role}, f"{label} sees clinical roles on the roster"


def readers(h: dict[str, Any]) -> list[Caller]:
    """Every (role, organisation) with every id on the team, and a stranger."""
    ids = sorted({m[0] for m in members(h)} | {"stranger"})
    out = []
    for role, orgs in ORGS.items():
        for org in orgs:
            users = ids if role not in ("coordinator", "auditor") else ["c-1"]
            out += [Caller(user, role, org) for user in users]
    return out


async def read_as(queries: CareQueries, who: Caller, cid: str, h: dict[str, Any],
                  marks: dict[str, str]) -> None:
    nowhere = uuid.uuid4()
    try:
        body = await queries.care_plan(who, uuid.UUID(cid))
    except QueryRefused as refused:
        assert not in_scope(h, who), f"{who} refused in scope: {refused.detail}"
        try:
            await queries.care_plan(who, nowhere)
        except QueryRefused as unknown:
            assert (refused.status, refused.detail) == (unknown.status, unknown.detail)
        if who.role == "coordinator":
            high = await queries.worklist(who, "high-risk", limit=200)
            assert cid not in {i["client_id"] for i in high["items"]}, f"{who} list"
        return
    assert in_scope(h, who), f"{who} read a client outside their scope"
    check(h, who, body, marks)
    if who.role == "coordinator":  # worklists follow the same scope and policy
        high = await queries.worklist(who, "high-risk", limit=200)
        listed = cid in {item["client_id"] for item in high["items"]}
        assert listed == (h["flag"] and not closed(h, who, "clinical")), f"{who} list"
    if who.role in CLINICIANS:
        notes = json.dumps(await queries.own_notes(who, uuid.UUID(cid)))
        author = (who.user, who.role, who.organisation) == (
            "u-clinical", "clinical-social-worker", CUSTODIAN)
        assert (marks["note"] in notes) == (h["note"] and author), f"{who} notes"


async def read_all(app: CareLoop, views: ViewStore, cid: str, h: dict[str, Any],
                   marks: dict[str, str]) -> None:
    """Every reader at once, as a busy service would be asked (their reads share commits)."""
    recorder = DisclosureRecorder(app)
    queries = CareQueries(app, views, recorder)
    try:
        await asyncio.gather(*(read_as(queries, who, cid, h, marks) for who in readers(h)))
    finally:
        await recorder.stop()


@settings(max_examples=20, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(h=history_st)
def test_every_reader_gets_exactly_what_the_policy_grants(
    stores: tuple[CareLoop, ViewStore], h: dict[str, Any]
) -> None:
    app, views = stores
    cid = str(uuid.uuid4())
    tag = uuid.uuid4().hex[:8]
    marks = {k: f"{k.upper()}-{tag}" for k in ("address", "goal", "sud", "note", "diagnosis",
                                               "flag")}
    if h["note"]:  # the note's author: the custodian's social worker, on the team
        h = {**h, "team": [("clinical-social-worker", 0), *h["team"]]}
    write_history(app, cid, h, marks)
    project(app, views, cid)
    asyncio.run(read_all(app, views, cid, h, marks))
