"""The FHIR renderer on hand-made views: it renders whatever a view holds (a view with
nothing but an id still makes a valid Bundle), and maps a consent's evidence when a view
carries it."""

from __future__ import annotations

import uuid

from fhir.resources.R4B.bundle import Bundle

from services.fhir.bundle import unresolved
from services.fhir.care_plan_export import care_plan_bundle

CLIENT = str(uuid.uuid4())


def test_an_empty_view_is_a_patient_and_a_plan() -> None:
    bundle = care_plan_bundle({"client_id": CLIENT, "view": "coordinator"})
    Bundle.model_validate(bundle)
    assert sorted(e["resource"]["resourceType"] for e in bundle["entry"]) == [
        "CarePlan", "Patient"]
    assert unresolved(bundle) == [] and "meta" not in bundle


def test_consent_evidence_becomes_performer_date_and_source() -> None:
    consent_id = str(uuid.uuid4())
    view = {"client_id": CLIENT, "view": "coordinator", "consents": {consent_id: {
        "status": "active", "provision": "deny", "recipient_roles": [],
        "recipient_organisations": ["harbor-housing"], "purposes": ["care-coordination"],
        "data_categories": ["substance-use"], "period_start": "2026-11-02",
        "period_end": None, "part2": True,
        "evidence": {"signed_by": "legal-representative", "representative": "A. Guardian",
                     "method": "written", "signed_at": "2026-11-02T10:15:00-05:00",
                     "document_reference": "riverside-ehr/consent-forms/7"}}}}
    bundle = care_plan_bundle(view)
    [consent] = [e["resource"] for e in bundle["entry"]
                 if e["resource"]["resourceType"] == "Consent"]
    assert consent["provision"]["type"] == "deny"
    assert consent["policyRule"]["coding"][0]["code"] == "OPTOUT"
    assert consent["performer"] == [{"display": "A. Guardian"}]
    assert consent["dateTime"] == "2026-11-02T10:15:00-05:00"
    assert consent["sourceReference"]["identifier"]["value"] == "riverside-ehr/consent-forms/7"
    assert {c["code"] for c in consent["meta"]["security"]} >= {"R", "42CFRPart2", "NORDSCLCD"}
    assert [a["reference"]["identifier"]["value"] for a in consent["provision"]["actor"]] == [
        "harbor-housing"]
