"""FHIR in: SDOH Clinical Care referrals translated into careloop's native messages.

A translation, not a second domain: each FHIR message becomes the one native referral
message it means (same envelope, same ``message_id``), which then meets the same contract,
the same domain rules and the same receipt as if it had been sent natively. What cannot be
translated is rejected with the FHIR path at fault.
"""

from __future__ import annotations

from typing import Any

from pydantic import ValidationError

from contracts.v1.catalogue import MESSAGE_TYPES
from contracts.v1.envelope import Envelope
from contracts.v1.fhir_messages import FhirEnvelope
from contracts.v1.parsing import Rejection, _validation_problems
from contracts.v1.receipts import Problem
from services.fhir.fhir_resources import (
    Doc,
    first_text,
    id_in,
    party,
    resource_of,
    service_of,
    single,
    status_of,
)

TASK_STATUS = {  # Task.status the recipient sends → the native message it means
    "received": "referral.received", "accepted": "referral.accepted",
    "rejected": "referral.rejected", "in-progress": "referral.started",
    "on-hold": "referral.put_on_hold", "completed": "referral.completed",
    "failed": "referral.failed", "cancelled": "referral.cancelled",
    "entered-in-error": "referral.entered_in_error",
}
SERVICE_REQUEST_STATUS = {  # ServiceRequest.status the referrer sends → native message
    "active": "referral.requested", "completed": "referral.outcome_acknowledged",
    "revoked": "referral.cancelled", "entered-in-error": "referral.entered_in_error",
}
FIELD_PATHS = {  # native payload field → where it comes from in the FHIR message
    "referral_id": "payload.focus.reference", "owner": "payload.owner",
    "reason": "payload.statusReason.text", "outcome": "payload.businessStatus",
    "note": "payload.note", "client_id": "ServiceRequest.subject.reference",
    "to_service": "ServiceRequest.code", "to_organisation": "Task.owner",
    "priority": "ServiceRequest.priority",
}


def refuse(rule: str, message: str, field: str | None, envelope: Envelope) -> Rejection:
    return Rejection("schema_violation", [Problem(code="schema_violation", field=field,
                                                  rule=rule, message=message)],
                     {"message_id": envelope.message_id,
                      "correlation_id": envelope.correlation_id})


def _task(envelope: Envelope, task: Doc) -> tuple[str, Doc]:
    status = status_of(task, TASK_STATUS, "payload.status", envelope, refuse)
    payload: Doc = {"referral_id": id_in(task.get("focus"), "ServiceRequest")}
    if status == "referral.accepted":
        payload["owner"] = party(task.get("owner"))
    elif status == "referral.completed":
        business = task.get("businessStatus") or {}
        codes = [c.get("code") for c in business.get("coding") or () if c.get("code")]
        payload["outcome"] = codes[0] if codes else business.get("text")
        payload["note"] = first_text(task.get("note")) or ""
    elif status not in ("referral.received", "referral.started"):
        payload["reason"] = (task.get("statusReason") or {}).get("text")
    return status, payload


def _service_request(envelope: Envelope, request: Doc) -> tuple[str, Doc]:
    status = status_of(request, SERVICE_REQUEST_STATUS, "payload.status", envelope, refuse)
    payload: Doc = {"referral_id": request.get("id")}
    if status == "referral.outcome_acknowledged":
        payload["note"] = first_text(request.get("note")) or ""
    elif status != "referral.requested":
        payload["reason"] = first_text(request.get("note"))
    return status, payload


def _referral(envelope: Envelope, bundle: Doc) -> tuple[str, Doc]:
    request = single(bundle, "ServiceRequest", envelope, refuse)
    task = single(bundle, "Task", envelope, refuse)
    focus = id_in(task.get("focus"), "ServiceRequest")
    if focus != request.get("id"):
        raise refuse("fhir_task_focus", "the Task's focus must reference the ServiceRequest "
                     "of the same Bundle (ServiceRequest/<its id>)", "Task.focus.reference",
                     envelope)
    kinds = {"requested": "referral.made", "draft": "referral.drafted"}
    status = status_of(task, kinds, "Task.status", envelope, refuse)
    payload = {
        "referral_id": request.get("id"),
        "client_id": id_in(request.get("subject"), "Patient"),
        "to_service": service_of(request),
        "to_organisation": party(task.get("owner")) or party(
            (request.get("performer") or [None])[0]),
        "reason": first_text(request.get("reasonCode")) or first_text(request.get("note")),
        "priority": request.get("priority") or task.get("priority") or "routine",
    }
    return status, payload


TRANSLATORS = {"fhir.referral": ("Bundle", _referral), "fhir.task": ("Task", _task),
               "fhir.service_request": ("ServiceRequest", _service_request)}


def translate(message: Envelope) -> Envelope:
    """The native message a FHIR message means; any other message is returned as it is."""
    if not isinstance(message, FhirEnvelope):
        return message
    resource_type, translator = TRANSLATORS[message.message_type]
    resource = resource_of(message.payload, resource_type, message, refuse)
    native_type, payload = translator(message, resource)
    doc: dict[str, Any] = {**message.model_dump(mode="json", exclude={"payload"}),
                           "message_type": native_type,
                           "payload": {k: v for k, v in payload.items() if v is not None}}
    try:
        return MESSAGE_TYPES[native_type].model_validate(doc)
    except ValidationError as e:
        problems = _validation_problems(e)
        for p in problems:
            leaf = (p.field or "").rsplit(".", 1)[-1]
            if leaf in FIELD_PATHS:
                p.field = FIELD_PATHS[leaf]
                p.message = f"{FIELD_PATHS[leaf]} (for {native_type}): {p.message}"
        raise Rejection("schema_violation", problems, {
            "message_id": message.message_id, "correlation_id": message.correlation_id}) from e
