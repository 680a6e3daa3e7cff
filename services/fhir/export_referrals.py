"""Referrals as the SDOH Clinical Care IG models them: a ServiceRequest (what is asked)
and a Task (code ``fulfill``, focus the ServiceRequest) that tracks the loop: its status is
the referral's, its ``businessStatus`` the outcome, its ``statusReason`` the last reason."""

from __future__ import annotations

from typing import Any

from services.fhir import ids
from services.fhir.bundle import BundleBuilder
from services.fhir.codes import (
    OUTCOME_SYSTEM,
    SDOH_CATEGORY,
    SDOHCC_CODES,
    SERVICE_SYSTEM,
    SNOMED,
    TASK_CODE,
    concept,
)

Doc = dict[str, Any]

SERVICE_REQUEST_STATUS = {
    "draft": "draft", "requested": "active", "received": "active", "accepted": "active",
    "in-progress": "active", "on-hold": "on-hold", "completed": "completed",
    "rejected": "revoked", "failed": "revoked", "cancelled": "revoked",
    "entered-in-error": "entered-in-error",
}
"""Referral (Task) status → ServiceRequest status: the request stays active while the loop
is open and ends with it."""

SERVICE_DOMAIN = {"housing": "housing", "benefits": "benefits"}


def _referrals(view: Doc) -> list[Doc]:
    found = view.get("referrals") or []
    return list(found.values()) if isinstance(found, dict) else list(found)


def _last(referral: Doc, key: str) -> Any:
    for step in reversed(referral.get("history") or []):
        if step.get(key):
            return step[key]
    return None


def service_request(view: Doc, r: Doc) -> Doc:
    service = r.get("to_service") or "service"
    category = [concept(SNOMED, "410606002", "Social service procedure")]
    if service in SERVICE_DOMAIN:
        category.append(concept(SDOHCC_CODES, *SDOH_CATEGORY[SERVICE_DOMAIN[service]]))
    resource: Doc = {
        "resourceType": "ServiceRequest", "id": r["referral_id"],
        "status": SERVICE_REQUEST_STATUS.get(r.get("status") or "", "unknown"),
        "intent": "order",
        "category": category,
        "priority": r.get("priority") or "routine",
        "code": concept(SERVICE_SYSTEM, service, text=service),
        "subject": ids.ref("Patient", view["client_id"]),
        "authoredOn": r.get("requested_at"),
        "requester": ids.person(r.get("requested_by")),
        "performer": [p for p in [ids.organisation(r.get("to_organisation"))] if p],
        "reasonCode": [{"text": r["reason"]}] if r.get("reason") else None,
    }
    return resource


def task(view: Doc, r: Doc) -> Doc:
    history = r.get("history") or []
    resource: Doc = {
        "resourceType": "Task", "id": ids.referral_task_id(r["referral_id"]),
        "status": r.get("status") or "requested",
        "intent": "order",
        "priority": r.get("priority") or "routine",
        "code": concept(TASK_CODE, "fulfill", "Fulfill the focal request"),
        "focus": ids.ref("ServiceRequest", r["referral_id"]),
        "for": ids.ref("Patient", view["client_id"]),
        "authoredOn": r.get("requested_at") or (history[0]["occurred_at"] if history else None),
        "lastModified": history[-1]["occurred_at"] if history else None,
        "requester": ids.person(r.get("requested_by")),
        "owner": ids.person(r["owner"]) if r.get("owner") else ids.organisation(
            r.get("to_organisation")),
    }
    outcome = r.get("outcome") or r.get("business_status")
    if outcome:
        resource["businessStatus"] = concept(OUTCOME_SYSTEM, outcome, text=outcome)
    reason = _last(r, "reason")
    if reason and r.get("status") in ("rejected", "failed", "cancelled", "on-hold",
                                      "entered-in-error"):
        resource["statusReason"] = {"text": reason}
    if r.get("response_due"):
        resource["restriction"] = {"period": {"end": r["response_due"]}}
    notes = [{"text": f"response deadline missed: {kind}"}
             for kind in r.get("missed_deadlines") or ()]
    if r.get("loop_closed"):
        notes.append({"text": "outcome acknowledged by the referrer: loop closed"})
    if notes:
        resource["note"] = notes
    return resource


def referrals(view: Doc, out: BundleBuilder) -> None:
    for r in _referrals(view):
        out.add(service_request(view, r), r.get("security"))
        out.add(task(view, r), r.get("security"))
