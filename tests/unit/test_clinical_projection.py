"""The clinical sections of the care plan, folded from the public events the domain produces."""

from __future__ import annotations

import json
import uuid
from collections.abc import Callable
from datetime import UTC, date, datetime
from typing import Any

import pytest

from domain.clinical_record import ClinicalRecord
from domain.provenance import Actor, Provenance
from projections import care_plan_clinical
from projections.care_plan_clinical import SECTIONS, apply
from services.relay.outbound_events import to_outbound

CLIENT = uuid.uuid4()
PSY_LABELS = {"confidentiality": "R", "sensitivity": ["PSY"], "law": []}
RISK_LABELS = {"confidentiality": "R", "sensitivity": [], "law": []}


def by(role: str, person: str) -> Provenance:
    return Provenance(
        actor=Actor(id=person, role=role, organisation="riverside-cmhc"),
        occurred_at=datetime(2026, 11, 4, 9, 15, tzinfo=UTC),
        source_system="riverside-ehr", message_id=str(uuid.uuid4()), correlation_id="c",
    )


SW, PSY = by("clinical-social-worker", "sw-1042"), by("psychiatrist", "psy-3307")


def published(*steps: Callable[[ClinicalRecord], None]) -> list[dict[str, Any]]:
    """Run the commands on a new record; return its events as a subscriber receives them."""
    record = ClinicalRecord.start(CLIENT, SW)
    for step in steps:
        step(record)
    return [json.loads(to_outbound(e, n, lambda _: CLIENT).model_dump_json())
            for n, e in enumerate(record.collect_events(), start=1)]


def fold(*steps: Callable[[ClinicalRecord], None]) -> dict[str, Any]:
    plan: dict[str, Any] = {"client_id": str(CLIENT)}
    for event in published(*steps):
        apply(plan, event)
    return plan


SID, FID, DID, MID, NID, EID = (uuid.uuid4() for _ in range(6))
S, F, D, M, N, E = (str(i) for i in (SID, FID, DID, MID, NID, EID))


def test_started_record_opens_every_clinical_section_empty() -> None:
    plan = fold()
    assert {k: plan[k] for k in SECTIONS} == {
        "screenings": [], "risk_flags": {}, "risk_reviews": {}, "diagnoses": {},
        "medications": {}, "psychotherapy_notes": {}, "substance_use": {}}


def test_screening_shows_instrument_items_total_band_and_date() -> None:
    plan = fold(lambda r: r.record_screening(SID, "GAD-7", [2, 2, 2, 2, 1, 1, 1], 11, SW))
    (entry,) = plan["screenings"]
    assert entry == {
        "screening_id": S, "instrument": "GAD-7", "loinc_code": "70274-6",
        "items": [2, 2, 2, 2, 1, 1, 1], "total": 11, "band": "moderate", "date": "2026-11-04",
        "occurred_at": entry["occurred_at"], "recorded_by": entry["recorded_by"],
        "security": PSY_LABELS}
    assert entry["recorded_by"]["id"] == "sw-1042"


def test_screenings_stay_in_the_order_they_were_recorded_for_the_trend() -> None:
    later = uuid.uuid4()
    plan = fold(lambda r: r.record_screening(SID, "PHQ-9", [2] * 8 + [0], 16, SW),
                lambda r: r.record_screening(later, "PHQ-9", [1] * 8 + [0], 8, SW))
    assert [(s["total"], s["band"]) for s in plan["screenings"]] == [
        (16, "moderately severe"), (8, "mild")]


def test_phq9_self_harm_answer_opens_a_risk_review_that_its_completion_closes() -> None:
    requested = fold(lambda r: r.record_screening(SID, "PHQ-9", [1] * 9, 9, SW))
    review = requested["risk_reviews"][S]
    assert (review["status"], review["screening_id"], review["item_score"]) == (
        "requested", S, 1)
    assert review["security"] == RISK_LABELS
    plan = fold(lambda r: r.record_screening(SID, "PHQ-9", [1] * 9, 9, SW),
                lambda r: r.raise_risk_flag(FID, "moderate", "passive ideation", SW),
                lambda r: r.complete_risk_review(SID, "risk-flag-raised", "plan agreed", FID,
                                                 PSY))
    review = plan["risk_reviews"][S]
    assert (review["status"], review["outcome"], review["flag_id"], review["reviewed_by"]) == (
        "completed", "risk-flag-raised", F, "psy-3307")
    assert review["note"] == "plan agreed" and review["completed"]["by"]["id"] == "psy-3307"


def test_risk_flag_shows_level_status_reason_and_its_history() -> None:
    plan = fold(lambda r: r.raise_risk_flag(FID, "high", "stated intent", SW),
                lambda r: r.change_risk_level(FID, "low", "protective factors", PSY),
                lambda r: r.inactivate_risk_flag(FID, "resolved", PSY))
    flag = plan["risk_flags"][F]
    assert (flag["level"], flag["status"], flag["reason"]) == ("low", "inactive", "stated intent")
    assert [(h["level"], h["status"], h["reason"]) for h in flag["history"]] == [
        ("low", "active", "protective factors"), ("low", "inactive", "resolved")]
    assert flag["security"] == RISK_LABELS


def test_diagnosis_shows_code_and_both_statuses_as_they_change() -> None:
    plan = fold(lambda r: r.record_diagnosis(DID, "F32.1", "MDD", "active", "provisional",
                                             date(2026, 9, 1), PSY),
                lambda r: r.change_diagnosis_status(DID, "remission", "confirmed", "better",
                                                    PSY))
    dx = plan["diagnoses"][D]
    assert (dx["code"], dx["display"], dx["onset_date"]) == ("F32.1", "MDD", "2026-09-01")
    assert (dx["clinical_status"], dx["verification_status"]) == ("remission", "confirmed")
    assert [h["note"] for h in dx["history"]] == ["better"]
    assert dx["security"] == PSY_LABELS


def test_diagnosis_entered_in_error_shows_no_clinical_status() -> None:
    plan = fold(lambda r: r.record_diagnosis(DID, "F32.1", "MDD", "active", "confirmed", None,
                                             PSY),
                lambda r: r.change_diagnosis_status(DID, None, "entered-in-error", "", PSY))
    assert (plan["diagnoses"][D]["clinical_status"],
            plan["diagnoses"][D]["verification_status"]) == (None, "entered-in-error")


def test_medication_shows_dose_prescriber_period_and_why_it_stopped() -> None:
    plan = fold(lambda r: r.record_medication(MID, "sertraline", "50 mg", "psy-3307",
                                              date(2026, 11, 10), None, PSY),
                lambda r: r.stop_medication(MID, date(2026, 11, 30), "nausea", PSY))
    med = plan["medications"][M]
    assert {k: med[k] for k in ("name", "dose", "prescriber", "period_start", "period_end",
                                "status", "stop_reason")} == {
        "name": "sertraline", "dose": "50 mg", "prescriber": "psy-3307",
        "period_start": "2026-11-10", "period_end": "2026-11-30", "status": "stopped",
        "stop_reason": "nausea"}
    assert med["security"] == PSY_LABELS


def test_psychotherapy_note_keeps_its_author_and_amendments_under_psythpn() -> None:
    plan = fold(lambda r: r.record_psychotherapy_note(NID, date(2026, 11, 11), "session", SW),
                lambda r: r.amend_psychotherapy_note(NID, "addendum", SW))
    note = plan["psychotherapy_notes"][N]
    assert (note["author_id"], note["author_organisation"], note["text"]) == (
        "sw-1042", "riverside-cmhc", "session")
    assert [a["text"] for a in note["amendments"]] == ["addendum"]
    assert note["security"] == {"confidentiality": "V", "sensitivity": ["PSYTHPN"], "law": []}


def test_substance_use_episode_is_labelled_part_2_and_shows_when_it_ended() -> None:
    plan = fold(lambda r: r.record_substance_use_treatment(EID, "outpatient", date(2026, 11, 5),
                                                           None, "weekly", SW),
                lambda r: r.end_substance_use_treatment(EID, date(2027, 1, 28), "completed",
                                                        SW))
    episode = plan["substance_use"][E]
    assert (episode["program"], episode["started_on"], episode["ended_on"], episode["status"],
            episode["summary"], episode["end_summary"]) == (
        "outpatient", "2026-11-05", "2027-01-28", "ended", "weekly", "completed")
    assert episode["security"] == {"confidentiality": "R", "sensitivity": ["ETH", "SUD"],
                                   "law": ["42CFRPart2"]}


def test_every_entry_in_every_section_carries_security_labels() -> None:
    plan = fold(lambda r: r.record_screening(SID, "PHQ-9", [1] * 9, 9, SW),
                lambda r: r.raise_risk_flag(FID, "high", "r", SW),
                lambda r: r.record_diagnosis(DID, "F41.1", "GAD", "active", "confirmed", None,
                                             PSY),
                lambda r: r.record_medication(MID, "m", "d", "p", date(2026, 1, 1), None, PSY),
                lambda r: r.record_psychotherapy_note(NID, date(2026, 1, 1), "t", SW),
                lambda r: r.record_substance_use_treatment(EID, "p", date(2026, 1, 1), None, "",
                                                           SW))
    entries = list(plan["screenings"]) + [
        e for section in SECTIONS[1:] for e in plan[section].values()]
    assert len(entries) == 7
    assert all(set(e["security"]) == {"confidentiality", "sensitivity", "law"} for e in entries)


def test_events_of_other_areas_leave_the_plan_untouched() -> None:
    plan = {"client_id": str(CLIENT), "referrals": {}}
    apply(plan, {"event_type": "referral.made", "data": {"reason": "r"}})
    assert plan == {"client_id": str(CLIENT), "referrals": {}}


@pytest.mark.parametrize("kind", ["risk_flag_level_changed", "risk_review_completed",
                                  "diagnosis_status_changed", "medication_stopped",
                                  "psychotherapy_note_amended", "substance_use_treatment_ended"])
def test_change_to_an_item_the_view_never_saw_is_ignored(kind: str) -> None:
    plan: dict[str, Any] = {}
    ghost = str(uuid.uuid4())
    data = {f"{k}_id": ghost for k in ("flag", "review", "diagnosis", "medication", "note",
                                       "episode")}
    apply(plan, {"event_type": f"clinical_record.{kind}", "data": data})
    assert all(not plan[s] for s in SECTIONS)


def test_module_writes_only_its_own_sections() -> None:
    plan = fold(lambda r: r.record_screening(SID, "PHQ-9", [1] * 9, 9, SW))
    assert set(plan) == {"client_id", *care_plan_clinical.SECTIONS}
