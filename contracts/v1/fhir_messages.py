"""FHIR R4 referral messages: the SDOH Clinical Care IG's ServiceRequest and Task, sent in
careloop's envelope (FHIR resources carry no idempotency key, acting person or business
time of their own). careloop translates each into the native referral message it means
and applies it with the same rules; the receipt names that native message type."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import Field

from contracts.v1.envelope import Envelope


def _reference(to: str) -> dict[str, Any]:
    return {"type": "object", "required": ["reference"],
            "description": f"A reference to the {to}.",
            "properties": {"reference": {"type": "string", "description": f"{to}/<id>, "
                                         "relative or absolute."}}}


def _party(what: str) -> dict[str, Any]:
    return {"type": "object", "description": f"{what}: identifier.value, else display.",
            "properties": {"identifier": {"type": "object", "description": "Who it is.",
                                          "properties": {"value": {
                                              "type": "string", "description": "Their id."}}},
                           "display": {"type": "string", "description": "Their name."}}}


def _texts(what: str) -> dict[str, Any]:
    return {"type": "array", "description": f"{what}; the first item's text is used.",
            "items": {"type": "object", "properties": {"text": {
                "type": "string", "description": "The text."}}}}


TASK_SCHEMA: dict[str, Any] = {
    "type": "object", "required": ["resourceType", "status", "intent", "focus"],
    "description": "The parts of a FHIR R4 Task careloop reads (the whole Task must be "
                   "valid FHIR R4).",
    "properties": {
        "resourceType": {"const": "Task", "description": "Always Task."},
        "status": {"enum": ["received", "accepted", "rejected", "in-progress", "on-hold",
                            "completed", "failed", "cancelled", "entered-in-error"],
                   "description": "The referral's new status."},
        "intent": {"const": "order", "description": "Always order (SDOH IG)."},
        "focus": _reference("ServiceRequest (the referral)"),
        "owner": _party("Who owns the work (needed for accepted)"),
        "statusReason": {"type": "object", "description": "Why (needed for rejected, "
                         "on-hold, failed, cancelled, entered-in-error).",
                         "properties": {"text": {"type": "string", "description": "Why."}}},
        "businessStatus": {"type": "object", "description": "The outcome (needed for "
                           "completed): a coding's code, else text.",
                           "properties": {"coding": {"type": "array", "description":
                                                     "careloop outcome codes."},
                                          "text": {"type": "string", "description":
                                                   "The outcome code as text."}}},
        "note": _texts("A note for the referrer (completed)"),
    },
}
SERVICE_REQUEST_SCHEMA: dict[str, Any] = {
    "type": "object", "required": ["resourceType", "id", "status", "intent"],
    "description": "The parts of a FHIR R4 ServiceRequest careloop reads.",
    "properties": {
        "resourceType": {"const": "ServiceRequest", "description": "Always ServiceRequest."},
        "id": {"type": "string", "format": "uuid", "description": "The referral's id."},
        "status": {"enum": ["active", "completed", "revoked", "entered-in-error"],
                   "description": "The referrer's change (draft in a new referral)."},
        "intent": {"const": "order", "description": "Always order."},
        "subject": _reference("Patient (the client; new referrals)"),
        "code": {"type": "object", "description": "The service: a careloop referral-service "
                 "code (housing, benefits, psychiatry, clinical-social-work)."},
        "category": {"type": "array", "description": "Or an SDOH category that names it."},
        "priority": {"enum": ["routine", "urgent", "asap", "stat"],
                     "description": "FHIR request priority."},
        "performer": {"type": "array", "description": "The recipient organisation, when "
                      "the Task names no owner.", "items": _party("The organisation")},
        "reasonCode": _texts("Why the client is referred (new referrals)"),
        "note": _texts("A reason (revoked, entered-in-error) or a note (completed)"),
    },
}
REFERRAL_BUNDLE_SCHEMA: dict[str, Any] = {
    "type": "object", "required": ["resourceType", "type", "entry"],
    "description": "A FHIR R4 Bundle with exactly one ServiceRequest and one Task.",
    "properties": {
        "resourceType": {"const": "Bundle", "description": "Always Bundle."},
        "type": {"enum": ["transaction", "batch", "collection"], "description": "Bundle type."},
        "entry": {"type": "array", "minItems": 2, "description": "The ServiceRequest and "
                  "its Task (status requested, or draft), each as entry.resource.",
                  "items": {"type": "object", "properties": {"resource": {
                      "type": "object", "description": "The resource."}}}},
    },
}


class FhirEnvelope(Envelope):
    """Any FHIR message; ``payload`` is FHIR R4 JSON, checked by careloop's translation."""

    payload: dict[str, Any] = Field(description="A FHIR R4 resource, as FHIR JSON.")


class FhirReferral(FhirEnvelope):
    """A new referral: a Bundle with one ServiceRequest and one Task (code fulfill, focus
    the ServiceRequest, status requested, or draft to prepare it) → referral.made/drafted."""

    message_type: Literal["fhir.referral"]
    payload: dict[str, Any] = Field(
        json_schema_extra=REFERRAL_BUNDLE_SCHEMA,
        description="FHIR R4 Bundle (type transaction, batch or collection) holding the "
                    "ServiceRequest (id = the referral's UUID, subject Patient/<client id>) "
                    "and its Task (focus the ServiceRequest, owner the recipient organisation).")


class FhirTaskUpdate(FhirEnvelope):
    """The recipient moves the referral's Task: received, accepted (owner), rejected,
    in-progress, on-hold, completed (businessStatus), failed or cancelled (statusReason)."""

    message_type: Literal["fhir.task"]
    payload: dict[str, Any] = Field(
        json_schema_extra=TASK_SCHEMA,
        description="FHIR R4 Task, code fulfill, focus ServiceRequest/<referral id>, with the "
                    "new status (and owner, statusReason.text or businessStatus as it needs).")


class FhirServiceRequestUpdate(FhirEnvelope):
    """The referrer changes the ServiceRequest: active (send a draft), completed (outcome
    acknowledged: the loop closes), revoked (cancel) or entered-in-error."""

    message_type: Literal["fhir.service_request"]
    payload: dict[str, Any] = Field(
        json_schema_extra=SERVICE_REQUEST_SCHEMA,
        description="FHIR R4 ServiceRequest, id = the referral's UUID, with the new status "
                    "(and a note giving the reason for revoked or entered-in-error).")


FHIR_MESSAGE_TYPES: dict[str, type[Envelope]] = {
    "fhir.referral": FhirReferral,
    "fhir.task": FhirTaskUpdate,
    "fhir.service_request": FhirServiceRequestUpdate,
}
