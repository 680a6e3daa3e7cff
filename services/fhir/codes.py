"""Code systems, value maps and security labels shared by the FHIR export and import.

Every coding names its system. careloop's own vocabularies live under ``CARELOOP``, the
same base the audit export's Provenance and AuditEvent resources use.
"""

from __future__ import annotations

from typing import Any

CARELOOP = "https://careloop.invalid/fhir"
ACTOR_SYSTEM = f"{CARELOOP}/actor"
ORGANISATION_SYSTEM = f"{CARELOOP}/organisation"
ROLE_SYSTEM = f"{CARELOOP}/CodeSystem/role"
DOMAIN_SYSTEM = f"{CARELOOP}/CodeSystem/care-domain"
SERVICE_SYSTEM = f"{CARELOOP}/CodeSystem/referral-service"
OUTCOME_SYSTEM = f"{CARELOOP}/CodeSystem/referral-outcome"
DATA_CATEGORY_SYSTEM = f"{CARELOOP}/CodeSystem/data-category"
FLAG_LEVEL_SYSTEM = f"{CARELOOP}/CodeSystem/risk-level"
CONFERENCE_SYSTEM = f"{CARELOOP}/CodeSystem/case-conference"
TASK_KIND_SYSTEM = f"{CARELOOP}/CodeSystem/task-kind"

LOINC = "http://loinc.org"
ICD10CM = "http://hl7.org/fhir/sid/icd-10-cm"
SNOMED = "http://snomed.info/sct"
BCP47 = "urn:ietf:bcp:47"
V3_CONFIDENTIALITY = "http://terminology.hl7.org/CodeSystem/v3-Confidentiality"
V3_ACT_CODE = "http://terminology.hl7.org/CodeSystem/v3-ActCode"
V3_OBSERVATION_VALUE = "http://terminology.hl7.org/CodeSystem/v3-ObservationValue"
V3_ACT_REASON = "http://terminology.hl7.org/CodeSystem/v3-ActReason"
V3_PARTICIPATION = "http://terminology.hl7.org/CodeSystem/v3-ParticipationType"
TASK_CODE = "http://hl7.org/fhir/CodeSystem/task-code"
OBSERVATION_CATEGORY = "http://terminology.hl7.org/CodeSystem/observation-category"
CONDITION_CATEGORY = "http://terminology.hl7.org/CodeSystem/condition-category"
CONDITION_CLINICAL = "http://terminology.hl7.org/CodeSystem/condition-clinical"
CONDITION_VERIFICATION = "http://terminology.hl7.org/CodeSystem/condition-ver-status"
GOAL_ACHIEVEMENT = "http://terminology.hl7.org/CodeSystem/goal-achievement"
CONSENT_SCOPE = "http://terminology.hl7.org/CodeSystem/consentscope"
FLAG_CATEGORY = "http://terminology.hl7.org/CodeSystem/flag-category"
SDOHCC_CODES = "http://hl7.org/fhir/us/sdoh-clinicalcare/CodeSystem/SDOHCC-CodeSystemTemporaryCodes"
PART2_POLICY = "https://www.ecfr.gov/current/title-42/chapter-I/subchapter-A/part-2"

SENSITIVITY_DISPLAY = {
    "PSY": "psychiatry disorder information sensitivity",
    "PSYTHPN": "psychotherapy note information sensitivity",
    "ETH": "substance abuse information sensitivity",
    "SUD": "substance use disorder information sensitivity",
    "SDV": "sexual assault, abuse, or domestic violence information sensitivity",
    "HIV": "HIV/AIDS information sensitivity",
}
CONFIDENTIALITY_RANK = {"U": 0, "L": 1, "M": 2, "N": 3, "R": 4, "V": 5}

PURPOSE_OF_USE = {"treatment": "TREAT", "care-coordination": "CAREMGT", "audit": "HOPERAT",
                  "emergency": "ETREAT"}
"""careloop read and consent purposes → HL7 v3 ActReason codes."""

SDOH_CATEGORY = {"housing": ("housing-instability", "Housing Instability"),
                 "benefits": ("financial-insecurity", "Financial Insecurity")}
"""careloop domains with an SDOH Clinical Care category (temporary codes of the IG)."""

PHQ9_ITEMS = ("44250-9", "44255-8", "44259-0", "44254-1", "44251-7", "44258-2", "44252-5",
              "44253-3", "44260-8")
GAD7_ITEMS = ("69725-0", "68509-9", "69733-4", "69734-2", "69735-9", "69689-8", "69736-7")
INSTRUMENTS = {  # name: (LOINC of the total, LOINC of each item in order)
    "PHQ-9": ("44261-6", PHQ9_ITEMS),
    "GAD-7": ("70274-6", GAD7_ITEMS),
}

Labels = dict[str, Any]


def coding(system: str, code: str, display: str | None = None) -> dict[str, Any]:
    out = {"system": system, "code": code}
    if display:
        out["display"] = display
    return out


def concept(system: str, code: str, display: str | None = None,
            text: str | None = None) -> dict[str, Any]:
    out: dict[str, Any] = {"coding": [coding(system, code, display)]}
    if text:
        out["text"] = text
    return out


def merge_labels(*many: Labels | None) -> Labels | None:
    """The high-water mark of several labels: the strictest confidentiality, every
    sensitivity and law. None when nothing was labelled."""
    present = [m for m in many if m]
    if not present:
        return None
    level = max((m.get("confidentiality") or "N" for m in present),
                key=lambda c: CONFIDENTIALITY_RANK.get(c, 3))
    return {"confidentiality": level,
            "sensitivity": sorted({s for m in present for s in m.get("sensitivity") or ()}),
            "law": sorted({law for m in present for law in m.get("law") or ()})}


def is_restricted(labels: Labels | None) -> bool:
    if not labels:
        return False
    return CONFIDENTIALITY_RANK.get(labels.get("confidentiality") or "N", 3) > 3 or bool(
        labels.get("sensitivity") or labels.get("law"))


def security(labels: Labels | None, redacted: bool = False) -> list[dict[str, Any]]:
    """``meta.security`` codings for careloop's labels (v3 Confidentiality and ActCode)."""
    if not labels:
        return []
    out = [coding(V3_CONFIDENTIALITY, labels.get("confidentiality") or "N")]
    out += [coding(V3_ACT_CODE, s, SENSITIVITY_DISPLAY.get(s))
            for s in labels.get("sensitivity") or ()]
    out += [coding(V3_ACT_CODE, law) for law in labels.get("law") or ()]
    if "42CFRPart2" in (labels.get("law") or ()):
        out.append(coding(V3_ACT_CODE, "NORDSCLCD",
                          "no redisclosure without consent directive"))
    if redacted:
        out.append(coding(V3_OBSERVATION_VALUE, "REDACTED", "redacted"))
    return out
