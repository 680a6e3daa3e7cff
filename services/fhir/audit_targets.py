"""Which exported resources an audited change touched: the audit trail's Provenance names
the same ``Type/id`` the care-plan export gives them, so an auditor can follow a change
from the timeline to the resource (and back)."""

from __future__ import annotations

from typing import Any

from services.fhir import ids

Record = dict[str, Any]

CLINICAL_IDS = {  # clinical record entry id → the resource type it is exported as
    "screening_id": "Observation", "review_id": "RiskAssessment", "flag_id": "Flag",
    "diagnosis_id": "Condition", "medication_id": "MedicationStatement",
    "note_id": "DocumentReference", "episode_id": "EpisodeOfCare",
}
PLAN_IDS = {"goal_id": "Goal", "task_id": "Task"}


def _clients(record: Record) -> list[str]:
    if record.get("client_id"):
        return [str(record["client_id"])]
    return [str(c) for c in (record.get("data") or {}).get("client_ids") or []]


def _by_ids(data: dict[str, Any], known: dict[str, str]) -> list[str]:
    return [f"{kind}/{data[key]}" for key, kind in known.items() if data.get(key)]


def targets(record: Record) -> list[str]:
    """``Type/id`` of every exported resource the event changed (at least one)."""
    kind = str(record.get("event_type") or "")
    data = record.get("data") or {}
    aggregate = str(record.get("aggregate_id"))
    clients = _clients(record)
    found: list[str] = []
    if kind.startswith("referral."):
        found = [f"ServiceRequest/{aggregate}", f"Task/{ids.referral_task_id(aggregate)}"]
    elif kind.startswith("client.care_team"):
        found = [f"CareTeam/{ids.care_team_id(c)}" for c in clients]
    elif kind.startswith("client.consent"):
        found = [f"Consent/{data['consent_id']}"] if data.get("consent_id") else []
    elif kind.startswith("care_plan."):
        found = _by_ids(data, PLAN_IDS) or [f"CarePlan/{aggregate}"]
        if data.get("need_id") and kind.startswith("care_plan.need"):
            found = [f"Condition/{ids.need_id(str(data['need_id']))}"]
    elif kind.startswith("clinical_record."):
        found = _by_ids(data, CLINICAL_IDS)[:1]
    elif kind.startswith("case_conference."):
        found = [f"Encounter/{aggregate}", *(f"Composition/{ids.minutes_id(aggregate, c)}"
                                             for c in clients)]
    return found or [f"Patient/{c}" for c in clients] or [f"Basic/{aggregate}"]
