"""The care plan as FHIR R4, for every role on the care story, through the real stores.

Each role's Bundle is rendered from that role's own view, validated resource by resource
with ``fhir.resources``, and checked: every reference resolves inside the Bundle, every
coding names its system, restricted resources carry their security labels, nothing a role
may not see appears, and the audit trail's Provenance targets are the export's own ids.
"""

from __future__ import annotations

import asyncio
import json
import uuid
from collections.abc import Iterator
from typing import Any

import pytest
from fhir.resources.R4B import get_fhir_model_class

from contracts.v1.catalogue import MESSAGE_TYPES
from projections import role_views
from projections.care_plan import as_response
from projections.view_store import ViewStore
from services.api.access_tokens import Caller
from services.api.care_queries import CareQueries
from services.api.disclosure_recorder import DisclosureRecorder
from services.audit.fhir_export import timeline_bundle
from services.audit.timeline import timeline
from services.commands.registry import execute
from services.fhir.bundle import references, unresolved
from services.fhir.care_plan_export import care_plan_bundle
from services.fhir.codes import (
    GAD7_ITEMS,
    ICD10CM,
    LOINC,
    PHQ9_ITEMS,
    TASK_CODE,
    V3_CONFIDENTIALITY,
)
from services.settings import Settings
from services.store.care_app import CareLoop, create_care_app
from services.store.event_store_config import eventsourcing_env
from services.store.view_stores import open_view_store
from tests.helpers import CLIENT_ID, example, message
from tests.rebuild import project

STORY = ["client.registered", "care_team.member_added", "consent.recorded",
         "client.contact_updated", "need.identified", "goal.set", "task.added",
         "referral.made", "referral.accepted", "referral.completed",
         "referral.outcome_acknowledged", "screening.recorded", "risk_flag.raised",
         "diagnosis.recorded", "medication.recorded", "psychotherapy_note.recorded",
         "substance_use_treatment.recorded", "conference.drafted", "conference.scheduled",
         "conference.attendance_recorded", "conference.discussion_agreed",
         "conference.session_started", "conference.item_discussed",
         "conference.action_item_assigned", "conference.adjourned", "conference.finalized"]
NOTE_TEXT = example("psychotherapy_note.recorded")["payload"]["text"]
SUD_TEXT = example("substance_use_treatment.recorded")["payload"]["summary"]
ADDRESS = example("client.contact_updated")["payload"]["address"]
DIAGNOSIS = example("diagnosis.recorded")["payload"]["code"]
SHARED_ID_NEED = "Isolated since moving; wants a peer group."
Doc = dict[str, Any]


CALLERS = (("sw-1042", "clinical-social-worker", "riverside-cmhc"),
           ("psy-3307", "psychiatrist", "riverside-cmhc"),
           ("ha-207", "housing-advocate", "harbor-housing"),
           ("ba-88", "benefits-advocate", "county-benefits"),
           ("co-5001", "coordinator", "riverside-cmhc"),
           ("au-1", "auditor", "riverside-cmhc"))


async def role_bundles(app: CareLoop, views: ViewStore) -> dict[str, Doc]:
    """Each role's Bundle, read as that person through the same queries as the API (so
    whatever the read policy decides is what the export shows); the emergency view as
    stored, since opening it is the break-glass tests' business."""
    queries = CareQueries(app, views, DisclosureRecorder(app))
    client = uuid.UUID(CLIENT_ID)
    out = {role: care_plan_bundle(await queries.care_plan(Caller(user, role, org), client))
           for user, role, org in CALLERS}
    glass = views.get(role_views.view_name(role_views.BREAK_GLASS), CLIENT_ID)
    assert glass is not None
    out[role_views.BREAK_GLASS] = care_plan_bundle(as_response(glass))
    return out


@pytest.fixture
def story(base_settings: Settings) -> Iterator[tuple[dict[str, Doc], list[Doc]]]:
    """Every role's Bundle of the care story, and the client's audit Provenance."""
    app = create_care_app(eventsourcing_env(base_settings))
    views = open_view_store(base_settings)
    try:
        for step in STORY:
            execute(app, MESSAGE_TYPES[step].model_validate(message(step)))
        execute(app, MESSAGE_TYPES["screening.recorded"].model_validate(message(
            "screening.recorded", screening_id=str(uuid.uuid4()), instrument="GAD-7",
            items=[1, 2, 1, 0, 1, 1, 0], total=6)))
        # a careless sender reuses the diagnosis's UUID for a need: both stay visible
        execute(app, MESSAGE_TYPES["need.identified"].model_validate(message(
            "need.identified", need_id=example("diagnosis.recorded")["payload"]["diagnosis_id"],
            domain="psychosocial", description=SHARED_ID_NEED)))
        # a second referral, rejected: its Task says why
        rejected = str(uuid.uuid4())
        for step, extra in (("referral.made", {}), ("referral.rejected",
                                                    {"reason": "No capacity this month."})):
            execute(app, MESSAGE_TYPES[step].model_validate(
                message(step, referral_id=rejected, **extra)))
        for member_id, role, organisation in (CALLERS[0], CALLERS[1], CALLERS[3]):  # join
            execute(app, MESSAGE_TYPES["care_team.member_added"].model_validate(message(
                "care_team.member_added", member_id=member_id, role=role,
                organisation=organisation)))
        project(app, views)
        bundles = asyncio.run(role_bundles(app, views))
        provenance = [e["resource"] for e in timeline_bundle(timeline(app, uuid.UUID(
            CLIENT_ID)))["entry"]]
        yield bundles, provenance
    finally:
        views.close()
        app.close()


def resources(bundle: Doc, kind: str | None = None) -> list[Doc]:
    return [e["resource"] for e in bundle["entry"]
            if kind is None or e["resource"]["resourceType"] == kind]


def codings(value: Any) -> Iterator[Doc]:
    if isinstance(value, dict):
        if "code" in value and isinstance(value.get("code"), str) and (
                "system" in value or "display" in value):
            yield value
        for v in value.values():
            yield from codings(v)
    elif isinstance(value, list):
        for v in value:
            yield from codings(v)


def labels(resource: Doc) -> set[str]:
    return {c["code"] for c in (resource.get("meta") or {}).get("security") or ()}


def test_every_role_gets_a_valid_self_contained_bundle(story: Any) -> None:
    bundles, _ = story
    for role, bundle in bundles.items():
        assert bundle["resourceType"] == "Bundle" and bundle["type"] == "collection", role
        for resource in resources(bundle):  # each resource against its own R4 model
            get_fhir_model_class(resource["resourceType"]).model_validate(resource)
        assert unresolved(bundle) == [], role
        assert list(references(bundle)), role
        for c in codings(bundle):
            assert c.get("system"), f"{role}: coding without a system: {c}"
        kinds = {r["resourceType"] for r in resources(bundle)}
        assert {"Patient", "CarePlan", "CareTeam"} <= kinds, role
        text = json.dumps(bundle)
        assert NOTE_TEXT not in text, role  # psychotherapy notes never leave
        assert (SUD_TEXT in text) == (role == "break-glass"), role


def test_clinician_bundle_speaks_the_standard_codes_with_labels(story: Any) -> None:
    bundle = story[0]["psychiatrist"]
    kinds = {r["resourceType"] for r in resources(bundle)}
    assert {"Patient", "CarePlan", "Goal", "CareTeam", "Condition", "MedicationStatement",
            "Observation", "Flag", "Consent", "ServiceRequest", "Task", "Encounter",
            "Composition", "RiskAssessment"} <= kinds
    [dx] = [c for c in resources(bundle, "Condition") if ICD10CM in json.dumps(c)]
    assert dx["code"]["coding"][0] == {"system": ICD10CM, "code": DIAGNOSIS,
                                       "display": dx["code"]["coding"][0]["display"]}
    assert {"R", "PSY"} <= labels(dx)
    assert SHARED_ID_NEED in [c["code"].get("text") for c in resources(bundle, "Condition")]
    by_code = {o["code"]["coding"][0]["code"]: o for o in resources(bundle, "Observation")}
    phq, gad = by_code["44261-6"], by_code["70274-6"]
    assert [c["code"]["coding"][0]["code"] for c in gad["component"]] == list(GAD7_ITEMS)
    assert gad["valueInteger"] == 6 and gad["interpretation"][0]["text"] == "mild"
    assert phq["code"]["coding"][0]["system"] == LOINC
    assert phq["code"]["coding"][0]["code"] == "44261-6"
    assert phq["category"][0]["coding"][0]["code"] == "survey"
    assert [c["code"]["coding"][0]["code"] for c in phq["component"]] == list(PHQ9_ITEMS)
    assert sum(c["valueInteger"] for c in phq["component"]) == phq["valueInteger"]
    assert {"R", "PSY"} <= labels(phq)
    for kind in ("MedicationStatement", "Flag", "RiskAssessment", "Composition"):
        assert all("R" in labels(r) for r in resources(bundle, kind)), kind
    [patient] = resources(bundle, "Patient")
    assert patient["address"][0]["text"] == ADDRESS and {"V", "SDV"} <= labels(patient)
    [consent] = resources(bundle, "Consent")
    assert consent["scope"]["coding"][0]["code"] == "patient-privacy"
    assert consent["category"] and consent["provision"]["type"] == "permit"
    assert consent["provision"]["actor"] and consent["provision"]["code"]
    security = bundle["meta"]["security"]
    assert {"system": V3_CONFIDENTIALITY, "code": "V"} in security  # high-water mark


def test_referrals_follow_the_sdoh_ig_pattern(story: Any) -> None:
    bundle = story[0]["clinical-social-worker"]
    requests = {r["id"]: r for r in resources(bundle, "ServiceRequest")}
    loops = [t for t in resources(bundle, "Task") if "focus" in t]
    assert len(loops) == len(requests) == 2
    by_status = {t["status"]: t for t in loops}
    done, refused = by_status["completed"], by_status["rejected"]
    for task in loops:
        assert task["code"]["coding"][0] == {"system": TASK_CODE, "code": "fulfill",
                                             "display": "Fulfill the focal request"}
        assert task["intent"] == "order"
        assert task["focus"]["reference"].split("/")[1] in requests
    assert done["businessStatus"]["coding"][0]["code"] == "got-help"
    assert requests[done["focus"]["reference"].split("/")[1]]["status"] == "completed"
    assert refused["statusReason"]["text"] == "No capacity this month."
    assert requests[refused["focus"]["reference"].split("/")[1]]["status"] == "revoked"
    [encounter] = resources(bundle, "Encounter")
    [minutes] = resources(bundle, "Composition")
    assert minutes["encounter"]["reference"] == f"Encounter/{encounter['id']}"
    assert minutes["status"] == "final" and minutes["attester"][0]["mode"] == "legal"
    action_refs = [e["reference"] for s in minutes["section"] for e in s.get("entry", [])]
    assert action_refs and all(r.startswith("Task/") for r in action_refs)


def test_advocate_and_auditor_bundles_hold_only_what_their_views_hold(story: Any) -> None:
    bundles = story[0]
    housing = bundles["housing-advocate"]
    text = json.dumps(housing)
    kinds = {r["resourceType"] for r in resources(housing)}
    assert not kinds & {"MedicationStatement", "Observation", "RiskAssessment", "Consent",
                        "EpisodeOfCare"}
    assert ICD10CM not in text and ADDRESS not in text and '"PSY"' not in text
    [flag] = resources(housing, "Flag")
    assert flag["code"] == {"text": role_views.SAFETY_FLAG}
    assert {r["code"]["text"] for r in resources(housing, "ServiceRequest")} == {"housing"}
    assert {g["category"][0]["coding"][0]["code"] for g in resources(housing, "Goal")} == {
        "housing"}
    benefits = bundles["benefits-advocate"]  # no consent for benefits: identity and team only
    assert {r["resourceType"] for r in resources(benefits)} <= {
        "Patient", "CareTeam", "CarePlan", "Flag"}
    auditor = bundles["auditor"]
    [audited] = resources(auditor, "Patient")  # identity at most, never contact
    assert "telecom" not in audited and "address" not in audited
    for kind in ("Condition", "MedicationStatement", "Observation", "EpisodeOfCare",
                 "DocumentReference"):
        redacted = [r for r in resources(auditor, kind) if "REDACTED" in labels(r)]
        assert redacted, kind
    assert DIAGNOSIS not in json.dumps(auditor)
    [note] = resources(auditor, "DocumentReference")
    assert {"V", "PSYTHPN", "REDACTED"} <= labels(note)
    coordinator = bundles["coordinator"]
    trend = resources(coordinator, "Observation")
    assert [t["interpretation"][0]["text"] for t in trend] == ["moderate", "mild"]
    assert all("component" not in t and "valueInteger" not in t for t in trend)
    glass = bundles["break-glass"]
    [episode] = resources(glass, "EpisodeOfCare")
    assert {"R", "ETH", "SUD", "42CFRPart2", "NORDSCLCD"} <= labels(episode)
    assert "42 CFR part 2" in episode["text"]["div"]


def test_audit_provenance_targets_are_the_exported_resources(story: Any) -> None:
    bundles, provenance = story
    exported = {f"{r['resourceType']}/{r['id']}" for b in bundles.values()
                for r in resources(b)}
    targets = [t["reference"] for p in provenance if p["resourceType"] == "Provenance"
               for t in p["target"]]
    assert len(targets) >= len(STORY)
    assert sorted(set(targets) - exported) == []
    reads = [e for p in provenance if p["resourceType"] == "AuditEvent"
             for e in p["entity"]]
    assert all(e["what"]["reference"] in exported for e in reads)
