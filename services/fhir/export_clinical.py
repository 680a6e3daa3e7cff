"""The clinical record as FHIR: Condition (ICD-10-CM), MedicationStatement, Observation
(PHQ-9 / GAD-7, LOINC), Flag, EpisodeOfCare (substance use) and, for the auditor's
metadata-only view, the same resources stripped to id, date and labels (``REDACTED``).

Summary views (the coordinator's) hold no ids for diagnoses and medications; those get
stable ids from their position (``ids.summary_id``). Entries without labels of their own
get the labels the domain always gives them (psychiatric, restricted).
"""

from __future__ import annotations

import html
from typing import Any

from domain.security import PSYCHIATRIC, PSYCHOTHERAPY_NOTE, SUBSTANCE_USE
from services.fhir import ids
from services.fhir.bundle import BundleBuilder
from services.fhir.codes import (
    CONDITION_CATEGORY,
    CONDITION_CLINICAL,
    CONDITION_VERIFICATION,
    FLAG_CATEGORY,
    FLAG_LEVEL_SYSTEM,
    ICD10CM,
    INSTRUMENTS,
    LOINC,
    OBSERVATION_CATEGORY,
    concept,
)

Doc = dict[str, Any]
SURVEY = [concept(OBSERVATION_CATEGORY, "survey", "Survey")]
MEDICATION_STATUS = {"active": "active", "stopped": "stopped"}


def _by_id(section: Any, id_key: str, client_id: str, name: str) -> list[tuple[str, Doc]]:
    entries = list(section.values()) if isinstance(section, dict) else list(section or ())
    return [(str(e.get(id_key) or ids.summary_id(client_id, name, i)), e)
            for i, e in enumerate(entries)]


def diagnoses(view: Doc, out: BundleBuilder, section: Any = None, redacted: bool = False) -> None:
    cid = view["client_id"]
    for dx_id, dx in _by_id(view.get("diagnoses") if section is None else section,
                            "diagnosis_id", cid, "diagnoses"):
        resource: Doc = {"resourceType": "Condition", "id": dx_id,
                         "category": [concept(CONDITION_CATEGORY, "encounter-diagnosis",
                                              "Encounter Diagnosis")],
                         "subject": ids.ref("Patient", cid)}
        verification = dx.get("verification_status")
        if verification:
            resource["verificationStatus"] = concept(CONDITION_VERIFICATION, verification)
        if dx.get("clinical_status") and verification != "entered-in-error":
            resource["clinicalStatus"] = concept(CONDITION_CLINICAL, dx["clinical_status"])
        if dx.get("code"):
            resource["code"] = concept(ICD10CM, dx["code"], dx.get("display"),
                                       text=dx.get("display"))
        elif dx.get("display"):
            resource["code"] = {"text": dx["display"]}
        if dx.get("onset_date"):
            resource["onsetDateTime"] = dx["onset_date"]
        recorded = dx.get("recorded") or {}
        if recorded.get("at"):
            resource["recordedDate"] = recorded["at"]
            resource["recorder"] = ids.person(recorded.get("by"))
        out.add(resource, dx.get("security") or PSYCHIATRIC, redacted)


def medications(view: Doc, out: BundleBuilder, section: Any = None,
                redacted: bool = False) -> None:
    cid = view["client_id"]
    for med_id, med in _by_id(view.get("medications") if section is None else section,
                              "medication_id", cid, "medications"):
        resource: Doc = {
            "resourceType": "MedicationStatement", "id": med_id,
            "status": MEDICATION_STATUS.get(med.get("status") or "", "unknown"),
            "medicationCodeableConcept": {"text": med.get("name") or "medication withheld"},
            "subject": ids.ref("Patient", cid),
            "informationSource": ids.person(med.get("prescriber")),
        }
        period = {k: v for k, v in (("start", med.get("period_start")),
                                    ("end", med.get("period_end"))) if v}
        if period:
            resource["effectivePeriod"] = period
        if med.get("dose"):
            resource["dosage"] = [{"text": med["dose"]}]
        if med.get("stop_reason"):
            resource["statusReason"] = [{"text": med["stop_reason"]}]
        recorded = med.get("recorded") or {}
        if recorded.get("at"):
            resource["dateAsserted"] = recorded["at"]
        out.add(resource, med.get("security") or PSYCHIATRIC, redacted)


def screenings(view: Doc, out: BundleBuilder, section: Any = None,
               redacted: bool = False) -> None:
    """Full screenings (total and items), a coordinator's band-and-date trend, or an
    auditor's metadata: each an Observation of category survey with its LOINC code."""
    cid = view["client_id"]
    listed = view.get("screenings") or view.get("screening_trend") if section is None else section
    for sid, s in _by_id(listed, "screening_id", cid, "screenings"):
        total_code, item_codes = INSTRUMENTS.get(s.get("instrument") or "", ("", ()))
        code = s.get("loinc_code") or total_code
        resource: Doc = {
            "resourceType": "Observation", "id": sid, "status": "final",
            "category": SURVEY,
            "code": concept(LOINC, code, s.get("instrument"), text=s.get("instrument")) if code
            else {"text": s.get("instrument") or "screening"},
            "subject": ids.ref("Patient", cid),
            "effectiveDateTime": s.get("occurred_at") or s.get("date"),
            "performer": [p for p in [ids.person(s.get("recorded_by"))] if p],
        }
        if s.get("total") is not None:
            resource["valueInteger"] = s["total"]
        if s.get("band"):
            resource["interpretation"] = [{"text": s["band"]}]
        items = s.get("items") or []
        if items and len(items) == len(item_codes):
            resource["component"] = [{"code": concept(LOINC, item_code),
                                      "valueInteger": score}
                                     for item_code, score in zip(item_codes, items, strict=True)]
        out.add(resource, s.get("security") or PSYCHIATRIC, redacted)


def flags(view: Doc, out: BundleBuilder, section: Any = None, redacted: bool = False) -> None:
    cid = view["client_id"]
    for fid, f in _by_id(view.get("risk_flags") if section is None else section,
                         "flag_id", cid, "risk_flags"):
        level = f.get("level")
        resource: Doc = {
            "resourceType": "Flag", "id": fid, "status": f.get("status") or "active",
            "category": [concept(FLAG_CATEGORY, "safety", "Safety")],
            "code": concept(FLAG_LEVEL_SYSTEM, level, text=f"risk: {level}") if level
            else {"text": "risk flag"},
            "subject": ids.ref("Patient", cid),
        }
        if f.get("reason"):
            resource["code"]["text"] = f"risk: {level}; {f['reason']}"
        raised = f.get("raised") or {}
        if raised.get("at"):
            resource["period"] = {"start": raised["at"]}
            resource["author"] = ids.person(raised.get("by"))
        out.add(resource, f.get("security") or {"confidentiality": "R", "sensitivity": [],
                                                   "law": []}, redacted)


def risk_reviews(view: Doc, out: BundleBuilder) -> None:
    """A risk review a screening raised (PHQ-9 item 9), requested then completed."""
    cid = view["client_id"]
    for rid, review in _by_id(view.get("risk_reviews"), "review_id", cid, "risk_reviews"):
        done = review.get("status") == "completed"
        stamp = (review.get("completed") if done else review.get("requested")) or {}
        resource: Doc = {
            "resourceType": "RiskAssessment", "id": rid,
            "status": "final" if done else "registered",
            "subject": ids.ref("Patient", cid),
            "occurrenceDateTime": stamp.get("at"),
            "performer": ids.person(review.get("reviewed_by") or stamp.get("by")),
            "basis": [ids.ref("Observation", review["screening_id"])]
            if review.get("screening_id") else None,
            "reasonCode": [{"text": review["reason"]}] if review.get("reason") else None,
            "note": [{"text": t} for t in (review.get("outcome"), review.get("note")) if t]
            or None,
        }
        out.add(resource, review.get("security") or PSYCHIATRIC)


def safety_flag(view: Doc, out: BundleBuilder) -> None:
    """An advocate's view says only that there is a safety flag: so does the Flag."""
    text = view.get("safety_flag")
    if text:
        out.add({"resourceType": "Flag", "id": ids.derived("safety-flag", view["client_id"]),
                 "status": "active", "category": [concept(FLAG_CATEGORY, "safety", "Safety")],
                 "code": {"text": text}, "subject": ids.ref("Patient", view["client_id"])})


def _narrative(*lines: str | None) -> Doc:
    body = "".join(f"<p>{html.escape(line)}</p>" for line in lines if line)
    return {"status": "additional",
            "div": f'<div xmlns="http://www.w3.org/1999/xhtml">{body}</div>'}


def substance_use(view: Doc, out: BundleBuilder, section: Any = None,
                  redacted: bool = False) -> None:
    cid = view["client_id"]
    notice = view.get("redisclosure_notice")
    for eid, ep in _by_id(view.get("substance_use") if section is None else section,
                          "episode_id", cid, "substance_use"):
        resource: Doc = {
            "resourceType": "EpisodeOfCare", "id": eid,
            "status": "finished" if ep.get("status") == "ended" else "active",
            "type": [{"text": ep.get("program") or "substance use treatment"}],
            "patient": ids.ref("Patient", cid),
        }
        period = {k: v for k, v in (("start", ep.get("started_on")),
                                    ("end", ep.get("ended_on"))) if v}
        if period:
            resource["period"] = period
        if ep.get("summary") or notice:  # the summary travels with the redisclosure notice
            resource["text"] = _narrative(ep.get("summary"), ep.get("end_summary"), notice)
        out.add(resource, ep.get("security") or SUBSTANCE_USE, redacted)


def note_metadata(view: Doc, out: BundleBuilder, notes: list[Doc]) -> None:
    """That a psychotherapy note exists, by whom and when: never its text."""
    for note in notes:
        out.add({
            "resourceType": "DocumentReference", "id": note["note_id"], "status": "current",
            "type": {"text": "psychotherapy note"},
            "subject": ids.ref("Patient", view["client_id"]),
            "date": note.get("recorded_at"),
            "author": [p for p in [ids.person(note.get("author_id"))] if p],
            "content": [{"attachment": {"title": "psychotherapy note (text withheld)"}}],
        }, PSYCHOTHERAPY_NOTE, redacted=True)


def clinical(view: Doc, out: BundleBuilder) -> None:
    """Whatever clinical sections the view holds; an auditor's metadata comes redacted."""
    diagnoses(view, out)
    medications(view, out)
    screenings(view, out)
    flags(view, out)
    risk_reviews(view, out)
    safety_flag(view, out)
    substance_use(view, out)
    meta = view.get("metadata") or {}
    if meta:
        diagnoses(view, out, meta.get("diagnoses") or [], redacted=True)
        medications(view, out, meta.get("medications") or [], redacted=True)
        screenings(view, out, meta.get("screenings") or [], redacted=True)
        flags(view, out, meta.get("risk_flags") or [], redacted=True)
        substance_use(view, out, meta.get("substance_use") or [], redacted=True)
        note_metadata(view, out, meta.get("psychotherapy_notes") or [])
