"""FHIR R4 referral messages: the SDOH Clinical Care IG's ServiceRequest and Task, sent in
careloop's envelope (FHIR resources carry no idempotency key, acting person or business
time of their own). careloop translates each into the native referral message it means
and applies it with the same rules; the receipt names that native message type."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import Field

from contracts.v1.envelope import Envelope


class FhirEnvelope(Envelope):
    """Any FHIR message; ``payload`` is FHIR R4 JSON, checked by careloop's translation."""

    payload: dict[str, Any] = Field(description="A FHIR R4 resource, as FHIR JSON.")


class FhirReferral(FhirEnvelope):
    """A new referral: a Bundle with one ServiceRequest and one Task (code fulfill, focus
    the ServiceRequest, status requested, or draft to prepare it) → referral.made/drafted."""

    message_type: Literal["fhir.referral"]
    payload: dict[str, Any] = Field(
        description="FHIR R4 Bundle (type transaction, batch or collection) holding the "
                    "ServiceRequest (id = the referral's UUID, subject Patient/<client id>) "
                    "and its Task (focus the ServiceRequest, owner the recipient organisation).")


class FhirTaskUpdate(FhirEnvelope):
    """The recipient moves the referral's Task: received, accepted (owner), rejected,
    in-progress, on-hold, completed (businessStatus), failed or cancelled (statusReason)."""

    message_type: Literal["fhir.task"]
    payload: dict[str, Any] = Field(
        description="FHIR R4 Task, code fulfill, focus ServiceRequest/<referral id>, with the "
                    "new status (and owner, statusReason.text or businessStatus as it needs).")


class FhirServiceRequestUpdate(FhirEnvelope):
    """The referrer changes the ServiceRequest: active (send a draft), completed (outcome
    acknowledged: the loop closes), revoked (cancel) or entered-in-error."""

    message_type: Literal["fhir.service_request"]
    payload: dict[str, Any] = Field(
        description="FHIR R4 ServiceRequest, id = the referral's UUID, with the new status "
                    "(and a note giving the reason for revoked or entered-in-error).")


FHIR_MESSAGE_TYPES: dict[str, type[Envelope]] = {
    "fhir.referral": FhirReferral,
    "fhir.task": FhirTaskUpdate,
    "fhir.service_request": FhirServiceRequestUpdate,
}
