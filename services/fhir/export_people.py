"""Patient, CareTeam and Consent from a role view's identity, contact, team and consents."""

from __future__ import annotations

from datetime import date
from typing import Any

from services.fhir import ids
from services.fhir.bundle import BundleBuilder
from services.fhir.codes import (
    BCP47,
    CONSENT_SCOPE,
    DATA_CATEGORY_SYSTEM,
    LOINC,
    ORGANISATION_SYSTEM,
    PART2_POLICY,
    PURPOSE_OF_USE,
    ROLE_SYSTEM,
    V3_ACT_CODE,
    V3_ACT_REASON,
    V3_PARTICIPATION,
    coding,
    concept,
)

Doc = dict[str, Any]


def patient(view: Doc, out: BundleBuilder) -> None:
    client_id = view["client_id"]
    client = view.get("client") or {}
    resource: Doc = {"resourceType": "Patient", "id": client_id,
                     "active": view.get("status") != "discharged"}
    name = {k: v for k, v in (("family", client.get("family_name")),
                              ("given", [client["given_name"]] if client.get("given_name")
                               else None)) if v}
    if name:
        resource["name"] = [name]
    if client.get("birth_date"):
        resource["birthDate"] = client["birth_date"]
    if client.get("preferred_language"):
        resource["communication"] = [{"language": concept(BCP47, client["preferred_language"]),
                                      "preferred": True}]
    contact = view.get("contact") or {}
    labels = None
    if contact.get("phone"):
        resource["telecom"] = [{"system": "phone", "value": contact["phone"], "use": "mobile"}]
    if contact.get("address"):  # present only when this role may see it
        resource["address"] = [{"text": contact["address"], "use": "home"}]
        labels = contact.get("security")
    out.add(resource, labels)


def care_team(view: Doc, out: BundleBuilder) -> None:
    members = list((view.get("care_team") or {}).values())
    if not members:
        return
    today = date.today().isoformat()
    participants = []
    for m in members:
        period = {k: v for k, v in (("start", m.get("period_start")),
                                    ("end", m.get("period_end"))) if v}
        participant: Doc = {"role": [concept(ROLE_SYSTEM, m["role"], text=m["role"])],
                            "member": ids.person(m["member_id"]),
                            "onBehalfOf": ids.organisation(m.get("organisation"))}
        if period:
            participant["period"] = period
        participants.append({k: v for k, v in participant.items() if v})
    active = any(not m.get("period_end") or m["period_end"] >= today for m in members)
    out.add({"resourceType": "CareTeam", "id": ids.care_team_id(view["client_id"]),
             "status": "active" if active else "inactive",
             "subject": ids.ref("Patient", view["client_id"]),
             "name": "Care team", "participant": participants})


def _provision(c: Doc) -> Doc:
    actors: list[Doc] = [{"role": concept(V3_PARTICIPATION, "IRCP", "information recipient"),
               "reference": {"identifier": {"system": ROLE_SYSTEM, "value": role},
                             "display": role}}
              for role in c.get("recipient_roles") or ()]
    actors += [{"role": concept(V3_PARTICIPATION, "IRCP", "information recipient"),
                "reference": {"identifier": {"system": ORGANISATION_SYSTEM, "value": org},
                              "display": org}}
               for org in c.get("recipient_organisations") or ()]
    provision: Doc = {
        "type": "deny" if c.get("provision") == "deny" else "permit",
        "period": {k: v for k, v in (("start", c.get("period_start")),
                                     ("end", c.get("period_end"))) if v},
        "actor": actors,
        "purpose": [coding(V3_ACT_REASON, PURPOSE_OF_USE.get(p, "HOPERAT"), p)
                    for p in c.get("purposes") or ()],
        "code": [concept(DATA_CATEGORY_SYSTEM, cat, text=cat)
                 for cat in c.get("data_categories") or ()],
    }
    return {k: v for k, v in provision.items() if v}


def consents(view: Doc, out: BundleBuilder) -> None:
    for consent_id, c in (view.get("consents") or {}).items():
        part2 = bool(c.get("part2"))
        resource: Doc = {
            "resourceType": "Consent", "id": consent_id,
            "status": c.get("status") or "active",
            "scope": concept(CONSENT_SCOPE, "patient-privacy", "Privacy Consent"),
            "category": [concept(LOINC, "59284-0", "Patient Consent")],
            "patient": ids.ref("Patient", view["client_id"]),
            "policyRule": concept(V3_ACT_CODE, "OPTOUT" if c.get("provision") == "deny"
                                  else "OPTIN"),
            "provision": _provision(c),
        }
        if c.get("period_start"):
            resource["dateTime"] = c["period_start"]
        evidence = c.get("evidence") or {}
        if evidence:  # the client's act, as recorded (when the view holds it)
            resource["dateTime"] = evidence.get("signed_at") or resource.get("dateTime")
            resource["performer"] = [ids.ref("Patient", view["client_id"])] if (
                evidence.get("signed_by") == "client") else [
                {"display": evidence.get("representative") or "legal representative"}]
            if evidence.get("document_reference"):
                resource["sourceReference"] = {"type": "DocumentReference", "identifier": {
                    "value": evidence["document_reference"]}}
        if part2:
            resource["category"].append(concept(V3_ACT_CODE, "IDSCL",
                                                "information disclosure"))
            resource["policy"] = [{"uri": PART2_POLICY}]
        labels = {"confidentiality": "R", "sensitivity": ["SUD"], "law": ["42CFRPart2"]} if (
            part2) else None
        out.add(resource, labels)
