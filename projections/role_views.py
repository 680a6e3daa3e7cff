"""One care-plan view per audience, written from the full document at projection time.

What a role must not see is never written into its view (docs/domain.md, "Who sees what"); the
API's checks at read time (caseload, break-glass grants) are a second line. Consent is read
from the client's consents as they stand at the event being projected, so revoking one
re-renders every view without the data it covered.
"""

from __future__ import annotations

import copy
from datetime import date
from typing import Any

from domain.consent import Consent, decide
from projections.labels import (
    is_psychotherapy_note,
    is_substance_use,
    without,
)

Doc = dict[str, Any]

SOCIAL_WORKER, PSYCHIATRIST = "clinical-social-worker", "psychiatrist"
HOUSING, BENEFITS = "housing-advocate", "benefits-advocate"
COORDINATOR, AUDITOR, BREAK_GLASS = "coordinator", "auditor", "break-glass"
ADVOCATE_DOMAIN = {HOUSING: "housing", BENEFITS: "benefits"}
ROLE_VIEWS = (SOCIAL_WORKER, PSYCHIATRIST, HOUSING, BENEFITS, COORDINATOR, AUDITOR, BREAK_GLASS)

REDISCLOSURE_NOTICE = (
    "This record contains substance use disorder information protected by federal "
    "confidentiality rules (42 CFR part 2). Federal rules prohibit you from making any further "
    "disclosure of it unless expressly permitted by the written consent of the person to whom "
    "it pertains or as otherwise permitted by 42 CFR part 2. A general authorization for the "
    "release of medical or other information is NOT sufficient for this purpose. The federal "
    "rules restrict any use of the information to investigate or prosecute with regard to a "
    "crime any patient with a substance use disorder."
)
SAFETY_FLAG = "Safety flag: contact the coordinator before any visit or contact."

CLINICAL_SECTIONS = ("screenings", "risk_reviews", "risk_flags", "diagnoses", "medications")


def view_name(role: str) -> str:
    return f"care_plan.{role}"


def _consents(full: Doc) -> list[Consent]:
    out = []
    for c in (full.get("consents") or {}).values():
        out.append(Consent(
            status=c["status"], provision=c["provision"],
            recipient_roles=list(c["recipient_roles"]),
            recipient_organisations=list(c["recipient_organisations"]),
            purposes=list(c["purposes"]), data_categories=list(c["data_categories"]),
            period_start=date.fromisoformat(c["period_start"]),
            period_end=date.fromisoformat(c["period_end"]) if c.get("period_end") else None,
            part2=bool(c["part2"])))
    return out


def _on(full: Doc) -> date:
    return date.fromisoformat(str(full.get("updated_at") or "1970-01-01")[:10])


def team_organisations(full: Doc, role: str) -> list[str]:
    return sorted({m["organisation"] for m in (full.get("care_team") or {}).values()
                   if m["role"] == role and not m.get("period_end")})


def consented(full: Doc, role: str, category: str, purpose: str, part2: bool = False) -> bool:
    """Does an active consent let ``role`` (or its care-team organisations) receive it?"""
    consents = [c for c in _consents(full) if c.part2] if part2 else _consents(full)
    on = _on(full)
    organisations = team_organisations(full, role) or [""]
    return any(decide(consents, role, org, purpose, category, on) for org in organisations)


def _base(full: Doc, role: str) -> Doc:
    return {"client_id": full["client_id"], "view": role, "status": full.get("status"),
            "last_position": full.get("last_position"), "updated_at": full.get("updated_at")}


def _referrals(full: Doc) -> Doc:
    return copy.deepcopy(full.get("referrals") or {})


def clinician(full: Doc, role: str, sud_allowed: bool | None = None) -> Doc:
    """Social worker and psychiatrist: the whole plan; never others' psychotherapy notes;
    substance-use material only under consent."""
    sud = consented(full, role, "substance-use", "treatment", part2=True) if (
        sud_allowed is None) else sud_allowed
    drop = (lambda e: is_psychotherapy_note(e)) if sud else (
        lambda e: is_psychotherapy_note(e) or is_substance_use(e))
    view = _base(full, role)
    for key in ("client", "contact", "discharge", "care_team", "consents", "needs", "goals",
                "tasks", *CLINICAL_SECTIONS, "conferences"):
        if key in full:
            view[key] = without(full[key], drop)
    view["referrals"] = _referrals(full)
    if sud and full.get("substance_use"):
        view["substance_use"] = copy.deepcopy(full["substance_use"])
        view["redisclosure_notice"] = REDISCLOSURE_NOTICE
    return view


def coordinator(full: Doc) -> Doc:
    """Every client at summary depth: clinical detail reduced to what coordination needs."""
    sud = consented(full, COORDINATOR, "substance-use", "care-coordination", part2=True)
    drop = (lambda e: is_psychotherapy_note(e)) if sud else (
        lambda e: is_psychotherapy_note(e) or is_substance_use(e))
    view = _base(full, COORDINATOR)
    for key in ("client", "contact", "discharge", "care_team", "consents", "needs", "goals",
                "tasks", "risk_flags", "risk_reviews", "conferences"):
        if key in full:
            view[key] = without(full[key], drop)
    view["referrals"] = _referrals(full)
    view["diagnoses"] = [{"display": d["display"], "clinical_status": d["clinical_status"]}
                         for d in (full.get("diagnoses") or {}).values()]
    view["medications"] = [{"name": m["name"], "status": m["status"]}
                           for m in (full.get("medications") or {}).values()]
    view["screening_trend"] = [{"instrument": s["instrument"], "band": s["band"],
                                "date": s["date"]} for s in full.get("screenings") or []]
    if sud and full.get("substance_use"):
        view["substance_use"] = copy.deepcopy(full["substance_use"])
        view["redisclosure_notice"] = REDISCLOSURE_NOTICE
    return view


def advocate(full: Doc, role: str) -> Doc:
    """Housing or benefits: only their domain, only under consent, no clinical picture."""
    domain = ADVOCATE_DOMAIN[role]
    view = _base(full, role)
    client = full.get("client") or {}
    view["client"] = {k: client.get(k) for k in ("given_name", "family_name",
                                                  "preferred_language")}
    contact = full.get("contact")
    if contact:
        safe = {k: contact[k] for k in ("safe_contact_method", "may_leave_messages")}
        if contact["safe_contact_method"] == "phone":
            safe["phone"] = contact["phone"]
        if not contact["address_confidential"]:  # SDV: a confidential address never leaves
            safe["address"] = contact["address"]
        view["contact"] = safe
    view["care_team"] = copy.deepcopy(full.get("care_team") or {})
    view["safety_flag"] = SAFETY_FLAG if any(
        f["status"] == "active" for f in (full.get("risk_flags") or {}).values()) else None
    if not consented(full, role, domain, "care-coordination"):
        view["consent_required"] = f"no active consent to share {domain} information"
        return view

    def in_domain(entry: Doc) -> bool:
        return entry.get("domain") == domain and not is_substance_use(entry)

    view["needs"] = {k: copy.deepcopy(v) for k, v in (full.get("needs") or {}).items()
                     if in_domain(v)}
    view["goals"] = {k: copy.deepcopy(v) for k, v in (full.get("goals") or {}).items()
                     if in_domain(v)}
    view["tasks"] = {k: copy.deepcopy(v) for k, v in (full.get("tasks") or {}).items()
                     if in_domain(v)}
    view["referrals"] = {k: copy.deepcopy(v) for k, v in _referrals(full).items()
                         if v["to_service"] == domain}
    if consented(full, role, "substance-use", "care-coordination", part2=True) and (
            full.get("substance_use")):
        view["substance_use"] = copy.deepcopy(full["substance_use"])
        view["redisclosure_notice"] = REDISCLOSURE_NOTICE
    return view


def _meta(entry: Doc, *keys: str) -> Doc:
    return {k: entry.get(k) for k in keys}


def auditor(full: Doc) -> Doc:
    """Metadata of the clinical record; goals, referrals and minutes in full."""
    view = _base(full, AUDITOR)
    client = full.get("client") or {}
    view["client"] = {k: client.get(k) for k in ("registered_at", "registered_by")}
    for key in ("care_team", "consents", "needs", "goals", "tasks", "conferences"):
        if key in full:  # minutes in full; Part 2 material only as metadata
            view[key] = without(full[key], lambda e: is_psychotherapy_note(e)
                                or is_substance_use(e))
    view["referrals"] = _referrals(full)
    view["break_glass"] = copy.deepcopy(full.get("break_glass") or [])
    view["metadata"] = {
        "screenings": [_meta(s, "screening_id", "instrument", "date") for s in
                       full.get("screenings") or []],
        "risk_flags": [_meta(f, "flag_id", "status", "raised") for f in
                       (full.get("risk_flags") or {}).values()],
        "diagnoses": [_meta(d, "diagnosis_id", "recorded") for d in
                      (full.get("diagnoses") or {}).values()],
        "medications": [_meta(m, "medication_id", "recorded") for m in
                        (full.get("medications") or {}).values()],
        "psychotherapy_notes": [_meta(n, "note_id", "author_id", "recorded_at") for n in
                                (full.get("psychotherapy_notes") or {}).values()],
        "substance_use": [_meta(s, "episode_id", "recorded") for s in
                          (full.get("substance_use") or {}).values()],
    }
    return view


def render(full: Doc, role: str) -> Doc:
    if role in (SOCIAL_WORKER, PSYCHIATRIST):
        return clinician(full, role)
    if role == BREAK_GLASS:  # emergency access (42 CFR 2.51 allows Part 2 data); never notes
        return {**clinician(full, PSYCHIATRIST, sud_allowed=True), "view": BREAK_GLASS}
    if role == COORDINATOR:
        return coordinator(full)
    if role in ADVOCATE_DOMAIN:
        return advocate(full, role)
    if role == AUDITOR:
        return auditor(full)
    raise ValueError(f"no care-plan view for role {role!r}")


def notes_by_author(full: Doc) -> dict[str, Doc]:
    """Psychotherapy notes, one document per author: nobody else ever reads them."""
    by_author: dict[str, Doc] = {}
    for note in (full.get("psychotherapy_notes") or {}).values():
        doc = by_author.setdefault(note["author_id"], {"client_id": full["client_id"],
                                                        "author_id": note["author_id"],
                                                        "notes": {}})
        doc["notes"][note["note_id"]] = copy.deepcopy(note)
    return by_author
