"""FHIR exports of a client's audit timeline: one Provenance per change, one AuditEvent per read.

Built with ``fhir.resources`` so every resource is validated against the specification's
own model before it leaves. careloop speaks FHIR R4; the package models R4 through its
``R4B`` release (4.3), whose Bundle, Provenance and AuditEvent are the R4 resources
unchanged, so the JSON is valid R4.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from datetime import UTC, datetime
from typing import Any

from fhir.resources.R4B.auditevent import AuditEvent
from fhir.resources.R4B.bundle import Bundle
from fhir.resources.R4B.provenance import Provenance

from services.store.event_records import Record

CARELOOP = "https://careloop.invalid/fhir"
ACTOR_SYSTEM = f"{CARELOOP}/actor"
EVENT_TYPE_SYSTEM = f"{CARELOOP}/event-type"

TARGETS = {
    "client": "Patient", "referral": "ServiceRequest", "care_plan": "CarePlan",
    "clinical_record": "List", "case_conference": "Encounter", "disclosure": "AuditEvent",
}
"""careloop aggregate → the FHIR resource type it maps to (the FHIR mapping in docs/domain.md)."""

PURPOSE_OF_USE = {
    "treatment": "TREAT", "care-coordination": "CAREMGT", "audit": "HOPERAT",
    "emergency": "ETREAT",
}
"""careloop read purposes → HL7 v3 ActReason codes."""

V3_ACT_REASON = "http://terminology.hl7.org/CodeSystem/v3-ActReason"


def _who(actor: dict[str, str]) -> dict[str, Any]:
    return {"identifier": {"system": ACTOR_SYSTEM, "value": actor["id"]},
            "display": f"{actor['id']} ({actor['role']}, {actor['organisation']})"}


def provenance_of(record: Record) -> dict[str, Any]:
    """Who changed the client's record, when it happened and when careloop recorded it."""
    actor = record["actor"]
    operation = "CREATE" if record["aggregate_version"] == 1 else "UPDATE"
    target = TARGETS.get(record["aggregate_type"], "Basic")
    return {
        "resourceType": "Provenance",
        "id": record["event_id"],
        "target": [{"reference": f"{target}/{record['aggregate_id']}"}],
        "occurredDateTime": record["occurred_at"],
        "recorded": record["recorded_at"],
        "activity": {"coding": [
            {"system": "http://terminology.hl7.org/CodeSystem/v3-DataOperation",
             "code": operation},
            {"system": EVENT_TYPE_SYSTEM, "code": record["event_type"]},
        ]},
        "agent": [{
            "type": {"coding": [{
                "system": "http://terminology.hl7.org/CodeSystem/provenance-participant-type",
                "code": "author"}]},
            "role": [{"text": actor["role"]}],
            "who": _who(actor),
            "onBehalfOf": {"display": actor["organisation"]},
        }],
        "entity": [{
            "role": "source",
            "what": {"identifier": {"system": f"{CARELOOP}/message/{record['source_system']}",
                                    "value": record["message_id"]}},
        }],
    }


def audit_event_of(record: Record) -> dict[str, Any]:
    """A read of the client's record: who, which view, why, and any break-glass reason."""
    data = record["data"]
    purpose = [{"coding": [{"system": V3_ACT_REASON,
                            "code": PURPOSE_OF_USE.get(data["purpose"], "HOPERAT")}],
                "text": data["purpose"]}]
    if data.get("break_glass_reason"):
        purpose.append({"coding": [{"system": V3_ACT_REASON, "code": "BTG"}],
                        "text": data["break_glass_reason"]})
    details = [{"type": "view", "valueString": data["view"]},
               {"type": "channel", "valueString": data["channel"]}]
    if data.get("break_glass_reason"):
        details.append({"type": "break-glass-reason", "valueString": data["break_glass_reason"]})
    return {
        "resourceType": "AuditEvent",
        "id": record["event_id"],
        "type": {"system": "http://dicom.nema.org/resources/ontology/DCM", "code": "110110",
                 "display": "Patient Record"},
        "subtype": [{"system": "http://hl7.org/fhir/restful-interaction", "code": "read"}],
        "action": "R",
        "recorded": record["recorded_at"],
        "period": {"start": data["read_at"], "end": data["read_at"]},
        "outcome": "0",
        "purposeOfEvent": purpose,
        "agent": [{
            "type": {"coding": [{
                "system": "http://terminology.hl7.org/CodeSystem/extra-security-role-type",
                "code": "humanuser"}]},
            "role": [{"text": data["viewer_role"]}],
            "who": _who({"id": data["viewer_id"], "role": data["viewer_role"],
                         "organisation": data["viewer_organisation"]}),
            "requestor": True,
            "purposeOfUse": purpose,
        }],
        "source": {"observer": {"display": "careloop"},
                   "type": [{"system": "http://terminology.hl7.org/CodeSystem/security-source-type",
                             "code": "4", "display": "Application Server"}]},
        "entity": [{
            "what": {"reference": f"Patient/{record['client_id']}"},
            "type": {"system": "http://terminology.hl7.org/CodeSystem/audit-entity-type",
                     "code": "1", "display": "Person"},
            "role": {"system": "http://terminology.hl7.org/CodeSystem/object-role",
                     "code": "1", "display": "Patient"},
            "detail": details,
        }],
    }


def refusal_event_of(record: Record) -> dict[str, Any]:
    """A refused attempt to read (401, 403, out of scope): an AuditEvent that failed."""
    data, actor = record["data"], record["actor"]
    return {
        "resourceType": "AuditEvent",
        "id": record["event_id"],
        "type": {"system": "http://dicom.nema.org/resources/ontology/DCM", "code": "110110",
                 "display": "Patient Record"},
        "subtype": [{"system": "http://hl7.org/fhir/restful-interaction", "code": "read"}],
        "action": "R",
        "recorded": record["recorded_at"],
        "period": {"start": record["occurred_at"], "end": record["occurred_at"]},
        "outcome": "4",
        "outcomeDesc": f"{data['status']} {data['reason']}",
        "agent": [{"role": [{"text": actor["role"]}], "who": _who(actor), "requestor": True}],
        "source": {"observer": {"display": "careloop"}},
        "entity": [{"what": {"reference": f"Patient/{record['client_id']}"},
                    "detail": [{"type": "attempted", "valueString": data["what"]},
                               {"type": "channel", "valueString": data["channel"]}]}],
    }


def resource_of(record: Record) -> dict[str, Any]:
    if record["aggregate_type"] == "disclosure":
        return audit_event_of(record)
    if record["aggregate_type"] == "access_refusal":
        return refusal_event_of(record)
    return provenance_of(record)


def timeline_bundle(records: Iterable[Record]) -> dict[str, Any]:
    """A ``collection`` Bundle of the timeline, validated by the FHIR models."""
    entries = []
    for record in records:
        resource = resource_of(record)
        model = AuditEvent if resource["resourceType"] == "AuditEvent" else Provenance
        model.model_validate(resource)  # raises on anything the specification forbids
        entries.append({"fullUrl": f"urn:uuid:{record['event_id']}", "resource": resource})
    bundle = {"resourceType": "Bundle", "type": "collection",
              "timestamp": datetime.now(UTC).isoformat(), "entry": entries}
    validated = Bundle.model_validate(bundle)
    out: dict[str, Any] = json.loads(validated.model_dump_json(exclude_none=True))
    return out
