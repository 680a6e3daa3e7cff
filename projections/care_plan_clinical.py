"""The clinical sections of a client's care-plan document, folded from ``clinical_record.*``.

Pure: public outbound events in, the plan dict changed in place. Every entry keeps the
security labels of the event that wrote it last (``"security"``), so the per-role views can
leave out what a role must not see when they write, not when they serve. Like the rest of the
plan, it relies on the view store applying each event exactly once (by position).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

Doc = dict[str, Any]
Fold = Callable[[Doc, Doc, Doc], None]

PREFIX = "clinical_record."
SECTIONS = ("screenings", "risk_flags", "risk_reviews", "diagnoses", "medications",
            "psychotherapy_notes", "substance_use")


def ensure_sections(plan: Doc) -> None:
    """Give the plan every clinical section (a list for screenings, the rest by id)."""
    plan.setdefault("screenings", [])
    for section in SECTIONS[1:]:
        plan.setdefault(section, {})


def apply(plan: Doc, event: Doc) -> None:
    """Fold one ``clinical_record.*`` event into ``plan``; other events are ignored."""
    kind = str(event.get("event_type", ""))
    if not kind.startswith(PREFIX):
        return
    ensure_sections(plan)
    handler = _HANDLERS.get(kind[len(PREFIX):])
    if handler is not None:
        handler(plan, event["data"], event)


def _stamp(event: Doc) -> Doc:
    return {"at": event["occurred_at"], "by": event["actor"], "event_id": event["event_id"]}


def _labels(data: Doc) -> Doc:
    return dict(data["security"])


# -- screenings and risk reviews -----------------------------------------------------------

def _screening_recorded(plan: Doc, data: Doc, event: Doc) -> None:
    entry = {
        "screening_id": data["screening_id"],
        "instrument": data["instrument"],
        "loinc_code": data["loinc_code"],
        "items": list(data["items"]),
        "total": data["total"],
        "band": data["band"],
        "date": str(event["occurred_at"])[:10],
        "occurred_at": event["occurred_at"],
        "recorded_by": event["actor"],
        "security": _labels(data),
    }
    plan["screenings"].append(entry)


def _risk_review_requested(plan: Doc, data: Doc, event: Doc) -> None:
    plan["risk_reviews"][data["review_id"]] = {
        "review_id": data["review_id"],
        "screening_id": data["screening_id"],
        "item_code": data["item_code"],
        "item_score": data["item_score"],
        "reason": data["reason"],
        "status": "requested",
        "requested": _stamp(event),
        "outcome": None,
        "note": None,
        "flag_id": None,
        "reviewed_by": None,
        "completed": None,
        "security": _labels(data),
    }


def _risk_review_completed(plan: Doc, data: Doc, event: Doc) -> None:
    review = plan["risk_reviews"].get(data["review_id"])
    if review is None:
        return
    review.update(status="completed", outcome=data["outcome"], note=data["note"],
                  flag_id=data["flag_id"], reviewed_by=data["reviewed_by"],
                  completed=_stamp(event), security=_labels(data))


# -- risk flags ----------------------------------------------------------------------------

def _risk_flag_raised(plan: Doc, data: Doc, event: Doc) -> None:
    plan["risk_flags"][data["flag_id"]] = {
        "flag_id": data["flag_id"],
        "level": data["level"],
        "status": "active",
        "reason": data["reason"],
        "raised": _stamp(event),
        "history": [],
        "security": _labels(data),
    }


def _flag_change(status: str | None) -> Fold:
    def change(plan: Doc, data: Doc, event: Doc) -> None:
        flag = plan["risk_flags"].get(data["flag_id"])
        if flag is None:
            return
        if data.get("level"):
            flag["level"] = data["level"]
        if status is not None:
            flag["status"] = status
        step = {"event": event["event_type"], "level": flag["level"], "status": flag["status"],
                "reason": data["reason"], **_stamp(event)}
        flag["history"].append(step)
        flag["security"] = _labels(data)

    return change


# -- diagnoses and medications -------------------------------------------------------------

def _diagnosis_recorded(plan: Doc, data: Doc, event: Doc) -> None:
    plan["diagnoses"][data["diagnosis_id"]] = {
        "diagnosis_id": data["diagnosis_id"],
        "code": data["code"],
        "display": data["display"],
        "clinical_status": data["clinical_status"],
        "verification_status": data["verification_status"],
        "onset_date": data["onset_date"],
        "recorded": _stamp(event),
        "history": [],
        "security": _labels(data),
    }


def _diagnosis_status_changed(plan: Doc, data: Doc, event: Doc) -> None:
    dx = plan["diagnoses"].get(data["diagnosis_id"])
    if dx is None:
        return
    dx["clinical_status"] = data["clinical_status"]
    dx["verification_status"] = data["verification_status"]
    step = {"clinical_status": data["clinical_status"],
            "verification_status": data["verification_status"], "note": data["note"],
            **_stamp(event)}
    dx["history"].append(step)
    dx["security"] = _labels(data)


def _medication_recorded(plan: Doc, data: Doc, event: Doc) -> None:
    plan["medications"][data["medication_id"]] = {
        "medication_id": data["medication_id"],
        "name": data["name"],
        "dose": data["dose"],
        "prescriber": data["prescriber"],
        "period_start": data["period_start"],
        "period_end": data["period_end"],
        "status": "active",
        "stop_reason": None,
        "recorded": _stamp(event),
        "stopped": None,
        "security": _labels(data),
    }


def _medication_stopped(plan: Doc, data: Doc, event: Doc) -> None:
    med = plan["medications"].get(data["medication_id"])
    if med is None:
        return
    med.update(status="stopped", period_end=data["stopped_on"], stop_reason=data["reason"],
               stopped=_stamp(event), security=_labels(data))


# -- psychotherapy notes and substance-use treatment ---------------------------------------

def _note_recorded(plan: Doc, data: Doc, event: Doc) -> None:
    plan["psychotherapy_notes"][data["note_id"]] = {
        "note_id": data["note_id"],
        "author_id": data["author"],
        "author_organisation": data["author_organisation"],
        "author_role": (event.get("actor") or {}).get("role"),
        "session_date": data["session_date"],
        "text": data["text"],
        "recorded_at": event["occurred_at"],
        "amendments": [],
        "security": _labels(data),
    }


def _note_amended(plan: Doc, data: Doc, event: Doc) -> None:
    note = plan["psychotherapy_notes"].get(data["note_id"])
    if note is None:
        return
    amendment = {"text": data["text"], "author_id": data["author"], "at": event["occurred_at"],
                 "event_id": event["event_id"]}
    note["amendments"].append(amendment)
    note["security"] = _labels(data)


def _sud_recorded(plan: Doc, data: Doc, event: Doc) -> None:
    plan["substance_use"][data["episode_id"]] = {
        "episode_id": data["episode_id"],
        "program": data["program"],
        "started_on": data["started_on"],
        "ended_on": data["ended_on"],
        "status": "ended" if data["ended_on"] else "active",
        "summary": data["summary"],
        "end_summary": None,
        "recorded": _stamp(event),
        "security": _labels(data),
    }


def _sud_ended(plan: Doc, data: Doc, event: Doc) -> None:
    episode = plan["substance_use"].get(data["episode_id"])
    if episode is None:
        return
    episode.update(status="ended", ended_on=data["ended_on"], end_summary=data["summary"],
                   security=_labels(data))


def _started(plan: Doc, data: Doc, event: Doc) -> None:
    """Nothing to show yet: the sections exist from now on."""


_HANDLERS: dict[str, Fold] = {
    "started": _started,
    "screening_recorded": _screening_recorded,
    "risk_review_requested": _risk_review_requested,
    "risk_review_completed": _risk_review_completed,
    "risk_flag_raised": _risk_flag_raised,
    "risk_flag_level_changed": _flag_change(None),
    "risk_flag_inactivated": _flag_change("inactive"),
    "diagnosis_recorded": _diagnosis_recorded,
    "diagnosis_status_changed": _diagnosis_status_changed,
    "medication_recorded": _medication_recorded,
    "medication_stopped": _medication_stopped,
    "psychotherapy_note_recorded": _note_recorded,
    "psychotherapy_note_amended": _note_amended,
    "substance_use_treatment_recorded": _sud_recorded,
    "substance_use_treatment_ended": _sud_ended,
}
