"""Reading inbound FHIR JSON: validate against the R4 models, then pick out references,
codes and texts, naming the FHIR path whenever something is missing or wrong."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from fhir.resources.R4B import get_fhir_model_class
from pydantic import ValidationError

from contracts.v1.envelope import Envelope
from contracts.v1.parsing import MAX_PROBLEMS, Rejection
from contracts.v1.receipts import Problem
from services.fhir.codes import SDOHCC_CODES, SERVICE_SYSTEM

Doc = dict[str, Any]
Refuse = Callable[[str, str, str | None, Envelope], Rejection]

PARTY_TYPES = ("Organization", "Practitioner", "PractitionerRole")
SERVICES = ("clinical-social-work", "psychiatry", "housing", "benefits")
SDOH_SERVICE = {"housing-instability": "housing", "homelessness": "housing",
                "inadequate-housing": "housing", "financial-insecurity": "benefits",
                "material-hardship": "benefits"}
"""SDOH Clinical Care categories careloop can route to a service of its own."""


def resource_of(doc: Doc, resource_type: str, envelope: Envelope, refuse: Refuse) -> Doc:
    """``doc`` as a valid FHIR R4 resource of ``resource_type``, or a rejection per fault."""
    if doc.get("resourceType") != resource_type:
        raise refuse("fhir_resource_type", f"payload must be a FHIR {resource_type}, not "
                     f"{str(doc.get('resourceType'))[:40]!r}", "payload.resourceType",
                     envelope)
    try:
        get_fhir_model_class(resource_type).model_validate(doc)
    except (TypeError, KeyError, LookupError, RecursionError, ImportError) as e:
        # the FHIR models themselves trip over some malformed input (a null resourceType
        # of a contained resource, nesting deeper than the interpreter allows)
        raise refuse("fhir_r4", f"not valid FHIR R4 ({type(e).__name__}); check nested "
                     "resourceType values and nesting", "payload", envelope) from e
    except ValidationError as e:
        errors = e.errors(include_url=False, include_input=False, include_context=False)
        problems = [Problem(code="schema_violation", field=("payload." + ".".join(
            str(p) for p in err["loc"]))[:300], rule="fhir_r4",
            message=f"not valid FHIR R4: {err['msg']}"[:300]) for err in errors[:MAX_PROBLEMS]]
        raise Rejection("schema_violation", problems, {
            "message_id": envelope.message_id,
            "correlation_id": envelope.correlation_id}) from e
    return doc


def status_of(resource: Doc, known: dict[str, str], field: str, envelope: Envelope,
              refuse: Refuse) -> str:
    status = str(resource.get("status"))
    if status not in known:
        raise refuse("fhir_status", f"{resource.get('resourceType')}.status '{status[:40]}' "
                     f"is not one careloop accepts here; use one of: {', '.join(known)}",
                     field, envelope)
    return known[status]


def id_in(reference: Any, resource_type: str) -> str | None:
    """The id in ``{"reference": "<...>/Type/<id>"}`` (relative or absolute), if any."""
    if not isinstance(reference, dict) or not isinstance(reference.get("reference"), str):
        return None
    parts: list[str] = str(reference["reference"]).rstrip("/").split("/")
    if len(parts) >= 2 and parts[-2] == resource_type:
        return parts[-1]
    if parts[-1].startswith("urn:uuid:"):
        return parts[-1][len("urn:uuid:"):]
    return None


def party(reference: Any) -> str | None:
    """Who a reference names: its identifier's value, else the id of a literal reference
    (``Organization/harbor-housing``, ``Practitioner/ha-207``), else its display."""
    if not isinstance(reference, dict):
        return None
    value = (reference.get("identifier") or {}).get("value")
    if not value:
        value = next((id_in(reference, kind) for kind in PARTY_TYPES
                      if id_in(reference, kind)), None) or reference.get("display")
    return str(value) if value else None


def first_text(items: Any) -> str | None:
    """The first text of a list of CodeableConcepts or Annotations."""
    for item in items or ():
        if isinstance(item, dict) and item.get("text"):
            return str(item["text"])
    return None


def single(bundle: Doc, resource_type: str, envelope: Envelope, refuse: Refuse) -> Doc:
    found: list[Doc] = [e["resource"] for e in bundle.get("entry") or ()
             if isinstance(e, dict) and isinstance(e.get("resource"), dict)
             and e["resource"].get("resourceType") == resource_type]
    if len(found) != 1:
        raise refuse("fhir_bundle_entries", f"the Bundle must hold exactly one "
                     f"{resource_type}, not {len(found)}", "payload.entry", envelope)
    return found[0]


def service_of(request: Doc) -> str | None:
    """careloop's service: a code of careloop's own system, or an SDOH category."""
    concepts = [request.get("code") or {}, *(request.get("category") or ())]
    for c in concepts:
        for coding in c.get("coding") or ():
            code = coding.get("code")
            if coding.get("system") == SERVICE_SYSTEM and code in SERVICES:
                return str(code)
            if coding.get("system") == SDOHCC_CODES and code in SDOH_SERVICE:
                return SDOH_SERVICE[code]
    return None
