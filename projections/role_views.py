"""One care-plan view per audience, a (role, organisation) pair, written from the full document
at projection time.

What an audience must not see is never written into its view; the API's checks at read time
(organisation scope, caseload, break-glass grants) are a second line. Consent is decided per
(role, organisation), from the client's consents as they stand at the event being projected,
so revoking one re-renders every view without the data it covered, and two housing agencies
on one team can see different things.
"""

from __future__ import annotations

import copy
from typing import Any

from projections import minutes
from projections.access_scope import custodian
from projections.labels import is_domestic_violence, is_psychiatric, is_substance_use, without
from projections.view_policy import Audience, audience, hidden, permits

Doc = dict[str, Any]

SOCIAL_WORKER, PSYCHIATRIST = "clinical-social-worker", "psychiatrist"
HOUSING, BENEFITS = "housing-advocate", "benefits-advocate"
COORDINATOR, AUDITOR, BREAK_GLASS = "coordinator", "auditor", "break-glass"
ADVOCATE_DOMAIN = {HOUSING: "housing", BENEFITS: "benefits"}
CLINICIANS = (SOCIAL_WORKER, PSYCHIATRIST)
ROLE_VIEWS = (SOCIAL_WORKER, PSYCHIATRIST, HOUSING, BENEFITS, COORDINATOR, AUDITOR, BREAK_GLASS)
ORGANISATION_VIEWS = ROLE_VIEWS[:-1]
"""Rendered once per organisation; break-glass is one emergency view per client."""

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
PLAN_ITEMS = ("needs", "goals", "tasks")


def view_name(role: str) -> str:
    return f"care_plan.{role}"


def view_key(client_id: str, organisation: str | None) -> str:
    """Views are kept per (client, organisation); the break-glass view per client."""
    return f"{client_id}@{organisation}" if organisation else client_id


def _base(full: Doc, who: Audience | str) -> Doc:
    role = who if isinstance(who, str) else who.role
    view = {"client_id": full["client_id"], "view": role, "status": full.get("status"),
            "last_position": full.get("last_position"), "updated_at": full.get("updated_at")}
    if isinstance(who, Audience):
        view["organisation"] = who.organisation
    return view


def _items(full: Doc, who: Audience) -> Doc:
    """Needs, goals and tasks, less the labelled ones and the domains a deny closes."""
    drop = hidden(who)
    return {key: {k: copy.deepcopy(v) for k, v in (full.get(key) or {}).items()
                  if not drop(v) and v.get("domain") not in who.denied}
            for key in PLAN_ITEMS if key in full}


SERVICE_CATEGORY = {"psychiatry": "psychiatric", "clinical-social-work": "clinical",
                    "housing": "housing", "benefits": "benefits"}
"""The data category a referral to each service discloses (a deny of it hides the referral)."""


def _referrals(full: Doc, who: Audience | None = None) -> Doc:
    """Referrals as they are: a rendered view is serialized as soon as it is made and never
    changed, so it may share these (large, unlabelled) entries with the full document."""
    closed = who.denied if who else frozenset()
    return {k: v for k, v in (full.get("referrals") or {}).items()
            if SERVICE_CATEGORY.get(v.get("to_service") or "") not in closed}


def _part2(view: Doc, full: Doc, allowed: bool) -> None:
    if allowed and full.get("substance_use"):
        view["substance_use"] = copy.deepcopy(full["substance_use"])
        view["redisclosure_notice"] = REDISCLOSURE_NOTICE


def _conferences(full: Doc, who: Audience) -> Doc:
    held = full.get("conferences") or {}
    if not who.may("conference-minutes"):
        return minutes.schedule_only(held)
    return minutes.line_by_line(held, hidden(who))


def clinician(full: Doc, who: Audience) -> Doc:
    """Social worker and psychiatrist: the whole plan; never psychotherapy notes (they have
    their own, author-only view); Part 2 material only under a Part 2 consent naming their
    organisation; what a deny closes for them, gone."""
    drop = hidden(who)
    view = _base(full, who)
    for key in ("client", "contact", "discharge", "care_team", "consents"):
        if key in full:
            view[key] = without(full[key], drop)
    view.update(_items(full, who))
    for key in CLINICAL_SECTIONS:
        if key in full and not (key in ("diagnoses", "medications", "screenings")
                                and not who.may("psychiatric")):
            view[key] = without(full[key], drop)
    if not who.may("clinical"):
        for key in ("risk_flags", "risk_reviews"):
            view.pop(key, None)
    view["conferences"] = _conferences(full, who)
    view["referrals"] = _referrals(full, who)
    _part2(view, full, who.part2)
    return view


def coordinator(full: Doc, who: Audience) -> Doc:
    """Summary depth: clinical detail reduced to what coordination needs; PHQ-9/GAD-7 as band
    and trend (never item scores); risk reviews as their status only."""
    drop = hidden(who)
    view = _base(full, who)
    for key in ("client", "contact", "discharge", "care_team", "consents"):
        if key in full:
            view[key] = without(full[key], drop)
    view.update(_items(full, who))
    if who.may("clinical"):
        view["risk_flags"] = without(full.get("risk_flags") or {}, drop)
        view["risk_reviews"] = {k: {"review_id": r["review_id"], "status": r["status"],
                                    "requested_at": (r.get("requested") or {}).get("at")}
                                for k, r in (full.get("risk_reviews") or {}).items()}
    if who.may("psychiatric"):
        view["diagnoses"] = [{"display": d["display"], "clinical_status": d["clinical_status"]}
                             for d in (full.get("diagnoses") or {}).values()]
        view["medications"] = [{"name": m["name"], "status": m["status"]}
                               for m in (full.get("medications") or {}).values()]
        view["screening_trend"] = [{"instrument": s["instrument"], "band": s["band"],
                                    "date": s["date"]} for s in full.get("screenings") or []]
    view["conferences"] = _conferences(full, who)
    view["referrals"] = _referrals(full, who)
    if custodian(full) == who.organisation:  # emergency openings: the custodian is told
        view["break_glass"] = [{k: b.get(k) for k in ("by", "reason", "at", "until")}
                               for b in full.get("break_glass") or []]
    _part2(view, full, who.part2)
    return view


def advocate(full: Doc, who: Audience) -> Doc:
    """Housing or benefits: only their domain, only under a consent naming them, no clinical
    picture; the roster shows coordinators and their own domain, never clinical roles."""
    domain = ADVOCATE_DOMAIN[who.role]
    view = _base(full, who)
    client = full.get("client") or {}
    view["client"] = {k: client.get(k) for k in ("given_name", "family_name",
                                                  "preferred_language")}
    contact = full.get("contact")
    if contact:
        safe = {k: contact[k] for k in ("safe_contact_method", "may_leave_messages")}
        if contact["safe_contact_method"] == "phone":
            safe["phone"] = contact["phone"]
        if not contact["address_confidential"] and not is_domestic_violence(contact):
            safe["address"] = contact["address"]  # SDV: a confidential address never leaves
        view["contact"] = safe
    view["care_team"] = {k: copy.deepcopy(m) for k, m in (full.get("care_team") or {}).items()
                         if m["role"] in (COORDINATOR, who.role)}
    view["safety_flag"] = SAFETY_FLAG if any(
        f["status"] == "active" for f in (full.get("risk_flags") or {}).values()) else None
    _part2(view, full, who.part2)  # its own consent: a Part 2 consent naming the agency
    if not permits(full, who.role, who.organisation, domain):
        view["consent_required"] = f"no active consent to share {domain} information"
        view["referrals"] = {}
        return view

    def in_domain(entry: Doc) -> bool:
        return entry.get("domain") == domain and not is_substance_use(entry) and not (
            is_psychiatric(entry))

    for key in PLAN_ITEMS:
        view[key] = {k: copy.deepcopy(v) for k, v in (full.get(key) or {}).items()
                     if in_domain(v)}
    view["referrals"] = {k: v for k, v in _referrals(full).items() if v["to_service"] == domain}
    if who.may("conference-minutes"):
        view["conferences"] = minutes.action_items_of_domain(full.get("conferences") or {},
                                                             domain)
    return view


def _meta(entry: Doc, *keys: str) -> Doc:
    return {k: entry.get(k) for k in keys}


def restricted(entry: Doc) -> bool:
    """R and V content (psychiatric, psychotherapy, Part 2, domestic violence): an auditor
    sees it only under an investigation grant, and psychotherapy-note text never."""
    labels = entry.get("security") if isinstance(entry.get("security"), dict) else {}
    return (labels or {}).get("confidentiality") in ("R", "V")


def auditor(full: Doc, who: Audience | None = None) -> Doc:
    """Identity without contact; goals, referrals and minutes in full with labelled lines
    redacted; the clinical record as metadata (screening band, flag level, never reasons)."""
    view = _base(full, who or AUDITOR)
    client = full.get("client") or {}
    view["client"] = {k: client.get(k) for k in ("given_name", "family_name", "birth_date",
                                                  "registered_at", "registered_by")}
    for key in ("care_team", "consents", *PLAN_ITEMS):
        if key in full:
            view[key] = without(full[key], restricted)
    view["conferences"] = minutes.line_by_line(full.get("conferences") or {}, restricted)
    view["referrals"] = _referrals(full)
    view["break_glass"] = copy.deepcopy(full.get("break_glass") or [])
    view["metadata"] = {
        "screenings": [_meta(s, "screening_id", "instrument", "band", "date") for s in
                       full.get("screenings") or []],
        "risk_flags": [_meta(f, "flag_id", "status", "level", "raised") for f in
                       (full.get("risk_flags") or {}).values()],
        "diagnoses": [_meta(d, "diagnosis_id", "recorded") for d in
                      (full.get("diagnoses") or {}).values()],
        "medications": [_meta(m, "medication_id", "recorded") for m in
                        (full.get("medications") or {}).values()],
        "psychotherapy_notes": [_meta(n, "note_id", "author_id", "author_organisation",
                                      "recorded_at") for n in
                                (full.get("psychotherapy_notes") or {}).values()],
        "substance_use": [_meta(s, "episode_id", "recorded") for s in
                          (full.get("substance_use") or {}).values()],
    }
    return view


def break_glass(full: Doc) -> Doc:
    """Emergency access (42 CFR 2.51 allows Part 2 data in a medical emergency); never
    psychotherapy notes."""
    who = Audience(PSYCHIATRIST, "", part2=True, denied=frozenset())
    view = {**clinician(full, who), "view": BREAK_GLASS}
    view.pop("organisation", None)
    return view


def render(full: Doc, role: str, organisation: str = "") -> Doc:
    if role == BREAK_GLASS:
        return break_glass(full)
    if role == AUDITOR:
        return auditor(full, Audience(AUDITOR, organisation, False, frozenset()))
    who = audience(full, role, organisation)
    if role in CLINICIANS:
        return clinician(full, who)
    if role == COORDINATOR:
        return coordinator(full, who)
    if role in ADVOCATE_DOMAIN:
        return advocate(full, who)
    raise ValueError(f"no care-plan view for role {role!r}")


def notes_by_author(full: Doc) -> dict[tuple[str, str, str], Doc]:
    """Psychotherapy notes, one document per (organisation, role, author): nobody else reads
    them, not a person of another organisation or role who happens to have the same user id."""
    by_author: dict[tuple[str, str, str], Doc] = {}
    for note in (full.get("psychotherapy_notes") or {}).values():
        org = str(note.get("author_organisation") or "")
        role = str(note.get("author_role") or "")
        doc = by_author.setdefault((org, role, note["author_id"]), {
            "client_id": full["client_id"], "author_id": note["author_id"],
            "author_organisation": org, "author_role": role, "notes": {}})
        doc["notes"][note["note_id"]] = copy.deepcopy(note)
    return by_author
