"""Given/when/then for every clinical-record rule and refusal (domain, then the service edge)."""

from __future__ import annotations

import inspect
import json
import uuid
from collections.abc import Callable
from datetime import UTC, date, datetime
from typing import Any
from uuid import UUID

import pytest

from contracts.v1.clinical_messages import MESSAGE_TYPES
from contracts.v1.parsing import parse_message
from domain import clinical_record, screening
from domain.authority import ClinicalSourceNotOnTeam
from domain.care_plan import CarePlan
from domain.clinical_record import (
    ClinicalRecord,
    CodeNotAllowed,
    DiagnosisEnteredInError,
    DiagnosisStatusUnchanged,
    DuplicateClinicalItem,
    InvalidIcd10Code,
    InvalidPeriod,
    MedicationAlreadyStopped,
    NotNoteAuthor,
    RiskFlagInactive,
    RiskLevelUnchanged,
    RiskReviewAlreadyCompleted,
    RoleNotPermitted,
    TreatmentEpisodeEnded,
    UnknownClinicalItem,
    ValueRequired,
)
from domain.errors import ClientNotRegistered, DomainError
from domain.provenance import Actor, Provenance
from domain.screening import (
    ItemOutOfRange,
    TotalMismatch,
    TotalOutOfRange,
    UnknownInstrument,
    WrongItemCount,
)
from services.commands.clinical import HANDLERS
from services.commands.registry import execute
from services.store.care_app import CareLoop, create_care_app
from tests.helpers import CLIENT_ID, message


def by(role: str, person: str | None = None, org: str = "riverside-cmhc") -> Provenance:
    return Provenance(
        actor=Actor(id=person or f"{role}-1", role=role, organisation=org),
        occurred_at=datetime(2026, 11, 20, 9, 0, tzinfo=UTC),
        source_system="riverside-ehr", message_id=str(uuid.uuid4()), correlation_id="c",
    )


SW, PSY, COORD = by("clinical-social-worker"), by("psychiatrist"), by("coordinator")
HOUSING, BENEFITS = by("housing-advocate"), by("benefits-advocate")
ROLES = {"clinical-social-worker": SW, "psychiatrist": PSY, "coordinator": COORD,
         "housing-advocate": HOUSING, "benefits-advocate": BENEFITS}
START, LATER = date(2026, 11, 1), date(2026, 12, 1)


def new_record() -> ClinicalRecord:
    record = ClinicalRecord.start(uuid.uuid4(), SW)
    record.collect_events()
    return record


def events_of(record: ClinicalRecord) -> list[Any]:
    return list(record.collect_events())


def names(events: list[Any]) -> list[str]:
    return [type(e).__name__ for e in events]


def refused(error: type[DomainError], field: str, act: Callable[[], object]) -> DomainError:
    with pytest.raises(error) as caught:
        act()
    assert caught.value.field == field
    return caught.value


def items_summing(total: int, count: int, last: int = 0) -> list[int]:
    """``count`` item scores adding up to ``total``, with the last item fixed at ``last``."""
    items, rest = [], total - last
    for _ in range(count - 1):
        items.append(min(3, rest))
        rest -= items[-1]
    assert rest == 0
    return [*items, last]


# -- the record itself ----------------------------------------------------------------------

def test_clinical_record_id_derives_from_the_client_and_differs_from_the_care_plan() -> None:
    client = uuid.uuid4()
    assert ClinicalRecord.id_for(client) == ClinicalRecord.id_for(client)
    assert ClinicalRecord.id_for(client) not in {client, CarePlan.id_for(client)}
    record = ClinicalRecord.start(client, SW)
    assert (record.id, record.client_id) == (ClinicalRecord.id_for(client), client)


def test_started_record_is_empty_and_its_start_is_unlabelled() -> None:
    record = ClinicalRecord.start(uuid.uuid4(), SW)
    (started,) = events_of(record)
    assert type(started).__qualname__ == "ClinicalRecord.Started"
    assert started.security == {"confidentiality": "N", "sensitivity": [], "law": []}
    assert record.screenings == record.risk_flags == record.diagnoses == {}


def test_every_refusal_is_a_specific_domain_error_with_its_own_code() -> None:
    errors = [c for m in (clinical_record, screening) for _, c in inspect.getmembers(m)
              if inspect.isclass(c) and issubclass(c, DomainError) and c is not DomainError]
    codes = [e.code for e in errors]
    assert len(errors) >= 20 and len(codes) == len(set(codes))
    assert all(e.code != DomainError.code for e in errors)


# -- screenings -----------------------------------------------------------------------------

PHQ9_BANDS = [(0, "minimal"), (4, "minimal"), (5, "mild"), (9, "mild"), (10, "moderate"),
              (14, "moderate"), (15, "moderately severe"), (19, "moderately severe"),
              (20, "severe"), (24, "severe")]
GAD7_BANDS = [(0, "minimal"), (4, "minimal"), (5, "mild"), (9, "mild"), (10, "moderate"),
              (14, "moderate"), (15, "severe"), (21, "severe")]


@pytest.mark.parametrize(("total", "band"), PHQ9_BANDS)
def test_phq9_total_is_recorded_with_its_band(total: int, band: str) -> None:
    record, sid = new_record(), uuid.uuid4()
    record.record_screening(sid, "PHQ-9", items_summing(total, 9), total, SW)
    (recorded,) = events_of(record)
    assert (recorded.band, recorded.total, recorded.loinc_code) == (band, total, "44261-6")
    assert record.screenings[sid].band == band


@pytest.mark.parametrize(("total", "band"), [(25, "severe"), (27, "severe")])
def test_phq9_top_totals_are_severe(total: int, band: str) -> None:
    record = new_record()
    record.record_screening(uuid.uuid4(), "PHQ-9", items_summing(total, 9, last=3), total, PSY)
    assert events_of(record)[0].band == band


@pytest.mark.parametrize(("total", "band"), GAD7_BANDS)
def test_gad7_total_is_recorded_with_its_band(total: int, band: str) -> None:
    record = new_record()
    record.record_screening(uuid.uuid4(), "GAD-7", items_summing(total, 7, last=min(total, 3)),
                            total, SW)
    (recorded,) = events_of(record)
    assert (recorded.band, recorded.loinc_code) == (band, "70274-6")


@pytest.mark.parametrize("item_9", [1, 2, 3])
def test_phq9_item_9_above_zero_raises_a_risk_review(item_9: int) -> None:
    record, sid = new_record(), uuid.uuid4()
    record.record_screening(sid, "PHQ-9", items_summing(6 + item_9, 9, last=item_9), 6 + item_9,
                            SW)
    recorded, review = events_of(record)
    assert names([recorded, review]) == ["ScreeningRecorded", "RiskReviewRequested"]
    assert (review.review_id, review.screening_id) == (sid, sid)
    assert (review.item_code, review.item_score) == ("44260-8", item_9)
    assert record.risk_reviews[sid].status == "requested"


def test_phq9_item_9_at_zero_requests_no_risk_review() -> None:
    record = new_record()
    record.record_screening(uuid.uuid4(), "PHQ-9", [3, 3, 3, 3, 3, 3, 3, 3, 0], 24, SW)
    assert names(events_of(record)) == ["ScreeningRecorded"]
    assert record.risk_reviews == {}


def test_gad7_never_requests_a_risk_review_even_with_a_high_last_item() -> None:
    record = new_record()
    record.record_screening(uuid.uuid4(), "GAD-7", [3] * 7, 21, SW)
    assert names(events_of(record)) == ["ScreeningRecorded"]


def test_screening_is_labelled_psychiatric_and_keeps_its_items() -> None:
    record = new_record()
    record.record_screening(uuid.uuid4(), "GAD-7", [0, 1, 2, 3, 0, 1, 2], 9, SW)
    (recorded,) = events_of(record)
    assert recorded.items == [0, 1, 2, 3, 0, 1, 2]
    assert recorded.security == {"confidentiality": "R", "sensitivity": ["PSY"], "law": []}


OK9 = [1] * 9
SCREENING_REFUSALS = [
    ("PHQ-2", [1, 1], 2, UnknownInstrument, "payload.instrument"),
    ("PHQ-9", [1] * 8, 8, WrongItemCount, "payload.items"),
    ("PHQ-9", [1] * 10, 10, WrongItemCount, "payload.items"),
    ("GAD-7", [1] * 9, 9, WrongItemCount, "payload.items"),
    ("PHQ-9", [], 0, WrongItemCount, "payload.items"),
    ("PHQ-9", [*OK9[:8], 4], 12, ItemOutOfRange, "payload.items[8]"),
    ("PHQ-9", [-1, *OK9[1:]], 7, ItemOutOfRange, "payload.items[0]"),
    ("GAD-7", [1, 1, 7, 1, 1, 1, 1], 13, ItemOutOfRange, "payload.items[2]"),
    ("GAD-7", [1, 1, 1, 1, 1, 1, True], 7, ItemOutOfRange, "payload.items[6]"),
    ("PHQ-9", OK9, 10, TotalMismatch, "payload.total"),
    ("GAD-7", [2] * 7, 13, TotalMismatch, "payload.total"),
    ("PHQ-9", OK9, 28, TotalOutOfRange, "payload.total"),
    ("PHQ-9", OK9, -1, TotalOutOfRange, "payload.total"),
    ("GAD-7", [3] * 7, 22, TotalOutOfRange, "payload.total"),
]


@pytest.mark.parametrize(("instrument", "items", "total", "error", "field"), SCREENING_REFUSALS,
                         ids=[f"{c[3].__name__}-{c[4]}-{i}" for i, c in
                              enumerate(SCREENING_REFUSALS)])
def test_screening_that_does_not_add_up_is_refused_naming_the_field(  # type: ignore[no-untyped-def]
        instrument, items, total, error, field) -> None:
    record = new_record()
    refused(error, field, lambda: record.record_screening(uuid.uuid4(), instrument, items, total,
                                                          SW))
    assert record.collect_events() == [] and record.screenings == {}


def test_duplicate_screening_id_is_refused() -> None:
    record, sid = new_record(), uuid.uuid4()
    record.record_screening(sid, "GAD-7", [0] * 7, 0, SW)
    refused(DuplicateClinicalItem, "payload.screening_id",
            lambda: record.record_screening(sid, "GAD-7", [1] * 7, 7, SW))


@pytest.mark.parametrize(("role", "allowed"), [
    ("clinical-social-worker", True), ("psychiatrist", True), ("coordinator", False),
    ("housing-advocate", False), ("benefits-advocate", False)])
def test_only_clinicians_record_screenings(role: str, allowed: bool) -> None:
    record = new_record()
    act = lambda: record.record_screening(uuid.uuid4(), "GAD-7", [0] * 7, 0, ROLES[role])  # noqa: E731
    if allowed:
        act()
    else:
        error = refused(RoleNotPermitted, "actor.role", act)
        assert role in str(error) and "record a screening" in str(error)
        assert record.screenings == {}


# -- risk reviews ---------------------------------------------------------------------------

def record_with_review() -> tuple[ClinicalRecord, UUID]:
    record, sid = new_record(), uuid.uuid4()
    record.record_screening(sid, "PHQ-9", [0, 0, 0, 0, 0, 0, 0, 0, 2], 2, SW)
    record.collect_events()
    return record, sid


def test_requested_risk_review_is_completed_by_a_clinician_with_an_outcome() -> None:
    record, rid = record_with_review()
    record.complete_risk_review(rid, "safety-plan-updated", "plan agreed", None, PSY)
    (completed,) = events_of(record)
    assert (completed.outcome, completed.reviewed_by, completed.flag_id) == (
        "safety-plan-updated", "psychiatrist-1", None)
    assert completed.security == {"confidentiality": "R", "sensitivity": [], "law": []}
    assert (record.risk_reviews[rid].status, record.risk_reviews[rid].outcome) == (
        "completed", "safety-plan-updated")


def test_risk_review_cannot_be_completed_twice() -> None:
    record, rid = record_with_review()
    record.complete_risk_review(rid, "no-action-needed", "", None, SW)
    refused(RiskReviewAlreadyCompleted, "payload.review_id",
            lambda: record.complete_risk_review(rid, "no-action-needed", "", None, SW))


def test_risk_review_that_was_never_requested_cannot_be_completed() -> None:
    record, _ = record_with_review()
    refused(UnknownClinicalItem, "payload.review_id",
            lambda: record.complete_risk_review(uuid.uuid4(), "no-action-needed", "", None, SW))


def test_risk_review_outcome_must_be_a_known_code() -> None:
    record, rid = record_with_review()
    refused(CodeNotAllowed, "payload.outcome",
            lambda: record.complete_risk_review(rid, "all-fine", "", None, SW))


def test_risk_review_that_raised_a_flag_must_name_it() -> None:
    record, rid = record_with_review()
    refused(ValueRequired, "payload.flag_id",
            lambda: record.complete_risk_review(rid, "risk-flag-raised", "", None, SW))


def test_risk_review_naming_an_unknown_flag_is_refused() -> None:
    record, rid = record_with_review()
    refused(UnknownClinicalItem, "payload.flag_id",
            lambda: record.complete_risk_review(rid, "risk-flag-raised", "", uuid.uuid4(), SW))


def test_risk_review_links_the_flag_it_raised() -> None:
    record, rid = record_with_review()
    fid = uuid.uuid4()
    record.raise_risk_flag(fid, "moderate", "passive ideation", SW)
    record.complete_risk_review(rid, "risk-flag-raised", "", fid, SW)
    assert events_of(record)[-1].flag_id == fid


@pytest.mark.parametrize("role", ["coordinator", "housing-advocate", "benefits-advocate"])
def test_only_clinicians_complete_a_risk_review(role: str) -> None:
    record, rid = record_with_review()
    refused(RoleNotPermitted, "actor.role",
            lambda: record.complete_risk_review(rid, "no-action-needed", "", None, ROLES[role]))


# -- risk flags -----------------------------------------------------------------------------

def record_with_flag(level: str = "moderate") -> tuple[ClinicalRecord, UUID]:
    record, fid = new_record(), uuid.uuid4()
    record.raise_risk_flag(fid, level, "expressed intent", SW)
    record.collect_events()
    return record, fid


@pytest.mark.parametrize("level", ["low", "moderate", "high", "imminent"])
def test_raised_risk_flag_is_active_at_its_level(level: str) -> None:
    record, fid = new_record(), uuid.uuid4()
    record.raise_risk_flag(fid, level, "expressed intent", SW)
    (raised,) = events_of(record)
    assert (raised.level, raised.reason) == (level, "expressed intent")
    assert raised.security == {"confidentiality": "R", "sensitivity": [], "law": []}
    flag = record.risk_flags[fid]
    assert (flag.status, flag.level) == ("active", level)


@pytest.mark.parametrize(("role", "allowed"), [
    ("clinical-social-worker", True), ("psychiatrist", True), ("coordinator", True),
    ("housing-advocate", False), ("benefits-advocate", False)])
def test_risk_flags_are_raised_by_clinicians_and_coordinators_only(role: str,
                                                                    allowed: bool) -> None:
    record = new_record()
    act = lambda: record.raise_risk_flag(uuid.uuid4(), "high", "r", ROLES[role])  # noqa: E731
    if allowed:
        act()
    else:
        refused(RoleNotPermitted, "actor.role", act)


def test_risk_flag_level_must_be_known() -> None:
    refused(CodeNotAllowed, "payload.level",
            lambda: new_record().raise_risk_flag(uuid.uuid4(), "severe", "r", SW))


def test_risk_flag_needs_a_reason() -> None:
    refused(ValueRequired, "payload.reason",
            lambda: new_record().raise_risk_flag(uuid.uuid4(), "high", "  ", SW))


def test_duplicate_risk_flag_id_is_refused() -> None:
    record, fid = record_with_flag()
    refused(DuplicateClinicalItem, "payload.flag_id",
            lambda: record.raise_risk_flag(fid, "high", "again", SW))


def test_risk_level_change_records_the_previous_level() -> None:
    record, fid = record_with_flag("moderate")
    record.change_risk_level(fid, "imminent", "stated a plan", COORD)
    (changed,) = events_of(record)
    assert (changed.previous_level, changed.level) == ("moderate", "imminent")
    assert record.risk_flags[fid].level == "imminent"


RISK_LEVEL_REFUSALS: list[tuple[str, str, str, type[DomainError], str]] = [
    ("same level", "moderate", "r", RiskLevelUnchanged, "payload.level"),
    ("unknown level", "extreme", "r", CodeNotAllowed, "payload.level"),
    ("no reason", "high", " ", ValueRequired, "payload.reason"),
]


@pytest.mark.parametrize(("case", "level", "reason", "error", "field"), RISK_LEVEL_REFUSALS,
                         ids=[c[0] for c in RISK_LEVEL_REFUSALS])
def test_risk_level_change_is_refused_when_it_breaks_a_rule(
        case: str, level: str, reason: str, error: type[DomainError], field: str) -> None:
    record, fid = record_with_flag("moderate")
    refused(error, field, lambda: record.change_risk_level(fid, level, reason, SW))
    assert record.risk_flags[fid].level == "moderate"


def test_inactivated_flag_is_inactive_and_cannot_change_level_or_be_inactivated_again() -> None:
    record, fid = record_with_flag()
    record.inactivate_risk_flag(fid, "risk resolved", PSY)
    assert names(events_of(record)) == ["RiskFlagInactivated"]
    assert record.risk_flags[fid].status == "inactive"
    refused(RiskFlagInactive, "payload.flag_id",
            lambda: record.change_risk_level(fid, "high", "r", PSY))
    refused(RiskFlagInactive, "payload.flag_id",
            lambda: record.inactivate_risk_flag(fid, "again", PSY))


def test_inactivating_a_risk_flag_needs_a_reason() -> None:
    record, fid = record_with_flag()
    refused(ValueRequired, "payload.reason", lambda: record.inactivate_risk_flag(fid, "", SW))


@pytest.mark.parametrize("step", ["change", "inactivate"])
def test_unknown_risk_flag_cannot_be_changed(step: str) -> None:
    record, fid = new_record(), uuid.uuid4()
    act = {"change": lambda: record.change_risk_level(fid, "high", "r", SW),
           "inactivate": lambda: record.inactivate_risk_flag(fid, "r", SW)}[step]
    refused(UnknownClinicalItem, "payload.flag_id", act)


@pytest.mark.parametrize("role", ["housing-advocate", "benefits-advocate"])
def test_advocates_cannot_change_or_inactivate_a_risk_flag(role: str) -> None:
    record, fid = record_with_flag()
    refused(RoleNotPermitted, "actor.role",
            lambda: record.change_risk_level(fid, "high", "r", ROLES[role]))
    refused(RoleNotPermitted, "actor.role",
            lambda: record.inactivate_risk_flag(fid, "r", ROLES[role]))


# -- diagnoses ------------------------------------------------------------------------------

def record_with_diagnosis(clinical: str = "active", verification: str = "provisional",
                          ) -> tuple[ClinicalRecord, UUID]:
    record, did = new_record(), uuid.uuid4()
    record.record_diagnosis(did, "F32.1", "MDD, single episode, moderate", clinical,
                            verification, START, PSY)
    record.collect_events()
    return record, did


def test_psychiatrist_records_a_diagnosis_labelled_psychiatric() -> None:
    record, did = new_record(), uuid.uuid4()
    record.record_diagnosis(did, "F41.1", "Generalized anxiety disorder", "active", "confirmed",
                            None, PSY)
    (recorded,) = events_of(record)
    assert (recorded.code, recorded.clinical_status, recorded.verification_status) == (
        "F41.1", "active", "confirmed")
    assert recorded.security == {"confidentiality": "R", "sensitivity": ["PSY"], "law": []}
    assert record.diagnoses[did].display == "Generalized anxiety disorder"


@pytest.mark.parametrize("role", ["clinical-social-worker", "coordinator", "benefits-advocate"])
def test_only_a_psychiatrist_records_a_diagnosis(role: str) -> None:
    refused(RoleNotPermitted, "actor.role", lambda: new_record().record_diagnosis(
        uuid.uuid4(), "F32.1", "d", "active", "confirmed", None, ROLES[role]))


def test_housing_advocate_cannot_record_a_diagnosis() -> None:
    record = new_record()
    error = refused(RoleNotPermitted, "actor.role", lambda: record.record_diagnosis(
        uuid.uuid4(), "F32.1", "d", "active", "confirmed", None, HOUSING))
    assert "psychiatrist" in str(error) and "housing-advocate" in str(error)
    assert record.diagnoses == {}


@pytest.mark.parametrize("code", ["F32.1", "F41.1", "Z59.0", "F10.20", "F43.10", "F20",
                                  "T14.91XA", "F32.A", "U07.1", "C4A.0"])
def test_icd10cm_codes_in_dotted_form_are_accepted(code: str) -> None:
    record = new_record()
    record.record_diagnosis(uuid.uuid4(), code, "d", "active", "confirmed", None, PSY)
    assert events_of(record)[0].code == code


@pytest.mark.parametrize("code", ["f32.1", "F32.", "32.1", "F3.1", "F32.12345", "F321", "FF2.1",
                                  "F32-1", "DSM-296.22", "F32.1 "])
def test_diagnosis_code_that_is_not_icd10cm_is_refused(code: str) -> None:
    error = refused(InvalidIcd10Code, "payload.code", lambda: new_record().record_diagnosis(
        uuid.uuid4(), code, "d", "active", "confirmed", None, PSY))
    assert "ICD-10-CM" in str(error)


DIAGNOSIS_REFUSALS: list[tuple[str, str, str, str, type[DomainError], str]] = [
    ("no display", " ", "active", "confirmed", ValueRequired, "payload.display"),
    ("unknown clinical status", "d", "cured", "confirmed", CodeNotAllowed,
     "payload.clinical_status"),
    ("unknown verification status", "d", "active", "likely", CodeNotAllowed,
     "payload.verification_status"),
    ("recorded already in error", "d", "active", "entered-in-error", CodeNotAllowed,
     "payload.verification_status"),
]


@pytest.mark.parametrize(("case", "display", "clinical", "verification", "error", "field"),
                         DIAGNOSIS_REFUSALS, ids=[c[0] for c in DIAGNOSIS_REFUSALS])
def test_diagnosis_is_refused_when_it_breaks_a_rule(case: str, display: str, clinical: str,
                                                    verification: str,
                                                    error: type[DomainError],
                                                    field: str) -> None:
    refused(error, field, lambda: new_record().record_diagnosis(
        uuid.uuid4(), "F32.1", display, clinical, verification, None, PSY))


def test_duplicate_diagnosis_id_is_refused() -> None:
    record, did = record_with_diagnosis()
    refused(DuplicateClinicalItem, "payload.diagnosis_id", lambda: record.record_diagnosis(
        did, "F41.1", "d", "active", "confirmed", None, PSY))


@pytest.mark.parametrize("status", ["recurrence", "relapse", "inactive", "remission", "resolved"])
def test_diagnosis_clinical_status_change_is_recorded(status: str) -> None:
    record, did = record_with_diagnosis()
    record.change_diagnosis_status(did, status, None, "review", PSY)
    (changed,) = events_of(record)
    assert (changed.clinical_status, changed.verification_status) == (status, "provisional")
    assert record.diagnoses[did].clinical_status == status


@pytest.mark.parametrize("status", ["unconfirmed", "differential", "confirmed", "refuted"])
def test_diagnosis_verification_status_change_is_recorded(status: str) -> None:
    record, did = record_with_diagnosis()
    record.change_diagnosis_status(did, None, status, "", PSY)
    (changed,) = events_of(record)
    assert (changed.clinical_status, changed.verification_status) == ("active", status)


def test_diagnosis_entered_in_error_loses_its_clinical_status_and_is_final() -> None:
    record, did = record_with_diagnosis()
    record.change_diagnosis_status(did, None, "entered-in-error", "wrong client", PSY)
    assert (events_of(record)[0].clinical_status, record.diagnoses[did].clinical_status) == (
        None, None)
    refused(DiagnosisEnteredInError, "payload.diagnosis_id",
            lambda: record.change_diagnosis_status(did, None, "confirmed", "", PSY))


def test_diagnosis_cannot_be_entered_in_error_with_a_clinical_status() -> None:
    record, did = record_with_diagnosis()
    refused(CodeNotAllowed, "payload.clinical_status",
            lambda: record.change_diagnosis_status(did, "active", "entered-in-error", "", PSY))


@pytest.mark.parametrize(("clinical", "verification"), [
    (None, None), ("active", None), (None, "provisional"), ("active", "provisional")])
def test_diagnosis_status_change_that_changes_nothing_is_refused(
        clinical: str | None, verification: str | None) -> None:
    record, did = record_with_diagnosis("active", "provisional")
    refused(DiagnosisStatusUnchanged, "payload",
            lambda: record.change_diagnosis_status(did, clinical, verification, "", PSY))


@pytest.mark.parametrize(("clinical", "verification", "field"), [
    ("cured", None, "payload.clinical_status"), (None, "likely", "payload.verification_status")])
def test_diagnosis_status_change_to_an_unknown_code_is_refused(
        clinical: str | None, verification: str | None, field: str) -> None:
    record, did = record_with_diagnosis()
    refused(CodeNotAllowed, field,
            lambda: record.change_diagnosis_status(did, clinical, verification, "", PSY))


def test_status_of_an_unknown_diagnosis_cannot_change() -> None:
    refused(UnknownClinicalItem, "payload.diagnosis_id", lambda: new_record()
            .change_diagnosis_status(uuid.uuid4(), "resolved", None, "", PSY))


@pytest.mark.parametrize("role", ["clinical-social-worker", "coordinator", "housing-advocate"])
def test_only_a_psychiatrist_changes_a_diagnosis(role: str) -> None:
    record, did = record_with_diagnosis()
    refused(RoleNotPermitted, "actor.role",
            lambda: record.change_diagnosis_status(did, "resolved", None, "", ROLES[role]))


# -- medications ----------------------------------------------------------------------------

def record_with_medication() -> tuple[ClinicalRecord, UUID]:
    record, mid = new_record(), uuid.uuid4()
    record.record_medication(mid, "sertraline", "50 mg daily", "psy-3307", START, None, PSY)
    record.collect_events()
    return record, mid


def test_psychiatrist_records_a_medication_labelled_psychiatric() -> None:
    record, mid = new_record(), uuid.uuid4()
    record.record_medication(mid, "sertraline", "50 mg", "psy-3307", START, LATER, PSY)
    (recorded,) = events_of(record)
    assert (recorded.name, recorded.dose, recorded.prescriber) == ("sertraline", "50 mg",
                                                                   "psy-3307")
    assert (recorded.period_start, recorded.period_end) == (START, LATER)
    assert recorded.security["sensitivity"] == ["PSY"]
    assert record.medications[mid].status == "active"


@pytest.mark.parametrize("role", ["clinical-social-worker", "coordinator", "housing-advocate",
                                  "benefits-advocate"])
def test_only_a_psychiatrist_records_a_medication(role: str) -> None:
    refused(RoleNotPermitted, "actor.role", lambda: new_record().record_medication(
        uuid.uuid4(), "sertraline", "50 mg", "p", START, None, ROLES[role]))


@pytest.mark.parametrize("blank", ["name", "dose", "prescriber"])
def test_medication_needs_name_dose_and_prescriber(blank: str) -> None:
    values = {"name": "sertraline", "dose": "50 mg", "prescriber": "psy-3307", blank: " "}
    refused(ValueRequired, f"payload.{blank}", lambda: new_record().record_medication(
        uuid.uuid4(), values["name"], values["dose"], values["prescriber"], START, None, PSY))


def test_medication_period_cannot_end_before_it_starts() -> None:
    refused(InvalidPeriod, "payload.period_end", lambda: new_record().record_medication(
        uuid.uuid4(), "s", "d", "p", LATER, START, PSY))


def test_duplicate_medication_id_is_refused() -> None:
    record, mid = record_with_medication()
    refused(DuplicateClinicalItem, "payload.medication_id", lambda: record.record_medication(
        mid, "s", "d", "p", START, None, PSY))


def test_stopped_medication_ends_its_period_and_cannot_be_stopped_again() -> None:
    record, mid = record_with_medication()
    record.stop_medication(mid, LATER, "nausea", PSY)
    (stopped,) = events_of(record)
    assert (stopped.stopped_on, stopped.reason) == (LATER, "nausea")
    assert (record.medications[mid].status, record.medications[mid].end) == ("stopped", LATER)
    refused(MedicationAlreadyStopped, "payload.medication_id",
            lambda: record.stop_medication(mid, LATER, "again", PSY))


MEDICATION_STOP_REFUSALS: list[tuple[str, date, str, type[DomainError], str]] = [
    ("no reason", LATER, " ", ValueRequired, "payload.reason"),
    ("before it started", date(2026, 10, 1), "r", InvalidPeriod, "payload.stopped_on"),
]


@pytest.mark.parametrize(("case", "on", "reason", "error", "field"), MEDICATION_STOP_REFUSALS,
                         ids=[c[0] for c in MEDICATION_STOP_REFUSALS])
def test_medication_stop_is_refused_when_it_breaks_a_rule(
        case: str, on: date, reason: str, error: type[DomainError], field: str) -> None:
    record, mid = record_with_medication()
    refused(error, field, lambda: record.stop_medication(mid, on, reason, PSY))
    assert record.medications[mid].status == "active"


def test_unknown_medication_cannot_be_stopped() -> None:
    refused(UnknownClinicalItem, "payload.medication_id",
            lambda: new_record().stop_medication(uuid.uuid4(), LATER, "r", PSY))


@pytest.mark.parametrize("role", ["clinical-social-worker", "coordinator", "benefits-advocate"])
def test_only_a_psychiatrist_stops_a_medication(role: str) -> None:
    record, mid = record_with_medication()
    refused(RoleNotPermitted, "actor.role",
            lambda: record.stop_medication(mid, LATER, "r", ROLES[role]))


# -- psychotherapy notes --------------------------------------------------------------------

AUTHOR = by("clinical-social-worker", "sw-1042")


def record_with_note() -> tuple[ClinicalRecord, UUID]:
    record, nid = new_record(), uuid.uuid4()
    record.record_psychotherapy_note(nid, START, "session 1", AUTHOR)
    record.collect_events()
    return record, nid


def test_psychotherapy_note_records_its_author_and_is_labelled_psythpn() -> None:
    record, nid = new_record(), uuid.uuid4()
    record.record_psychotherapy_note(nid, START, "session 1", AUTHOR)
    (recorded,) = events_of(record)
    assert (recorded.author, recorded.author_organisation) == ("sw-1042", "riverside-cmhc")
    assert recorded.security == {"confidentiality": "V", "sensitivity": ["PSYTHPN"], "law": []}
    assert record.notes[nid].author == "sw-1042"


@pytest.mark.parametrize(("role", "allowed"), [
    ("clinical-social-worker", True), ("psychiatrist", True), ("coordinator", False),
    ("housing-advocate", False), ("benefits-advocate", False)])
def test_only_clinicians_write_psychotherapy_notes(role: str, allowed: bool) -> None:
    record = new_record()
    act = lambda: record.record_psychotherapy_note(uuid.uuid4(), START, "t", ROLES[role])  # noqa: E731
    if allowed:
        act()
    else:
        refused(RoleNotPermitted, "actor.role", act)


def test_psychotherapy_note_needs_text() -> None:
    refused(ValueRequired, "payload.text",
            lambda: new_record().record_psychotherapy_note(uuid.uuid4(), START, " ", AUTHOR))


def test_duplicate_psychotherapy_note_id_is_refused() -> None:
    record, nid = record_with_note()
    refused(DuplicateClinicalItem, "payload.note_id",
            lambda: record.record_psychotherapy_note(nid, START, "again", AUTHOR))


def test_author_amends_their_note_by_appending_and_the_original_stays() -> None:
    record, nid = record_with_note()
    record.amend_psychotherapy_note(nid, "addendum", AUTHOR)
    (amended,) = events_of(record)
    assert (amended.author, amended.text) == ("sw-1042", "addendum")
    assert amended.security["sensitivity"] == ["PSYTHPN"]
    assert (record.notes[nid].text, record.notes[nid].amendments) == ("session 1", ["addendum"])


@pytest.mark.parametrize("other", [
    by("clinical-social-worker", "sw-2000"), by("psychiatrist", "psy-3307"),
    by("clinical-social-worker", "sw-1042", org="harbor-housing")],
    ids=["another-social-worker", "a-psychiatrist", "same-id-other-organisation"])
def test_nobody_but_the_author_amends_a_psychotherapy_note(other: Provenance) -> None:
    record, nid = record_with_note()
    refused(NotNoteAuthor, "actor.id",
            lambda: record.amend_psychotherapy_note(nid, "not mine", other))
    assert record.notes[nid].amendments == []


def test_amendment_needs_text_and_a_known_note() -> None:
    record, nid = record_with_note()
    refused(ValueRequired, "payload.text", lambda: record.amend_psychotherapy_note(nid, "", AUTHOR))
    refused(UnknownClinicalItem, "payload.note_id",
            lambda: record.amend_psychotherapy_note(uuid.uuid4(), "t", AUTHOR))


@pytest.mark.parametrize("role", ["coordinator", "housing-advocate"])
def test_non_clinicians_are_refused_by_role_before_authorship(role: str) -> None:
    record, nid = record_with_note()
    refused(RoleNotPermitted, "actor.role",
            lambda: record.amend_psychotherapy_note(nid, "t", by(role, "sw-1042")))


# -- substance-use treatment ----------------------------------------------------------------

def record_with_episode(ended: date | None = None) -> tuple[ClinicalRecord, UUID]:
    record, eid = new_record(), uuid.uuid4()
    record.record_substance_use_treatment(eid, "outpatient program", START, ended, "weekly", SW)
    record.collect_events()
    return record, eid


def test_substance_use_treatment_is_labelled_part_2() -> None:
    record, eid = new_record(), uuid.uuid4()
    record.record_substance_use_treatment(eid, "outpatient program", START, None, "weekly", SW)
    (recorded,) = events_of(record)
    assert recorded.security == {"confidentiality": "R", "sensitivity": ["ETH", "SUD"],
                                 "law": ["42CFRPart2"]}
    assert (recorded.program, recorded.started_on, recorded.ended_on) == (
        "outpatient program", START, None)


@pytest.mark.parametrize(("role", "allowed"), [
    ("clinical-social-worker", True), ("psychiatrist", True), ("coordinator", False),
    ("housing-advocate", False), ("benefits-advocate", False)])
def test_only_clinicians_record_substance_use_treatment(role: str, allowed: bool) -> None:
    record = new_record()
    act = lambda: record.record_substance_use_treatment(  # noqa: E731
        uuid.uuid4(), "p", START, None, "", ROLES[role])
    if allowed:
        act()
    else:
        refused(RoleNotPermitted, "actor.role", act)


def test_substance_use_treatment_names_its_program_and_a_valid_period() -> None:
    refused(ValueRequired, "payload.program", lambda: new_record()
            .record_substance_use_treatment(uuid.uuid4(), " ", START, None, "", SW))
    refused(InvalidPeriod, "payload.ended_on", lambda: new_record()
            .record_substance_use_treatment(uuid.uuid4(), "p", LATER, START, "", SW))


def test_duplicate_treatment_episode_id_is_refused() -> None:
    record, eid = record_with_episode()
    refused(DuplicateClinicalItem, "payload.episode_id", lambda: record
            .record_substance_use_treatment(eid, "p", START, None, "", SW))


def test_treatment_episode_ends_once() -> None:
    record, eid = record_with_episode()
    record.end_substance_use_treatment(eid, LATER, "completed", PSY)
    (ended,) = events_of(record)
    assert (ended.ended_on, ended.summary) == (LATER, "completed")
    assert ended.security["law"] == ["42CFRPart2"]
    refused(TreatmentEpisodeEnded, "payload.episode_id",
            lambda: record.end_substance_use_treatment(eid, LATER, "again", PSY))


def test_episode_recorded_as_already_over_cannot_be_ended() -> None:
    record, eid = record_with_episode(ended=LATER)
    refused(TreatmentEpisodeEnded, "payload.episode_id",
            lambda: record.end_substance_use_treatment(eid, LATER, "", SW))


def test_treatment_episode_cannot_end_before_it_started_or_be_unknown() -> None:
    record, eid = record_with_episode()
    refused(InvalidPeriod, "payload.ended_on",
            lambda: record.end_substance_use_treatment(eid, date(2026, 10, 1), "", SW))
    refused(UnknownClinicalItem, "payload.episode_id",
            lambda: record.end_substance_use_treatment(uuid.uuid4(), LATER, "", SW))


@pytest.mark.parametrize("role", ["coordinator", "housing-advocate", "benefits-advocate"])
def test_only_clinicians_end_substance_use_treatment(role: str) -> None:
    record, eid = record_with_episode()
    refused(RoleNotPermitted, "actor.role",
            lambda: record.end_substance_use_treatment(eid, LATER, "", ROLES[role]))


# -- every event ----------------------------------------------------------------------------

def test_every_event_carries_provenance_and_security_labels() -> None:
    record, rid = record_with_review()
    fid, did, mid, nid, eid = (uuid.uuid4() for _ in range(5))
    record.raise_risk_flag(fid, "high", "r", SW)
    record.change_risk_level(fid, "low", "r", SW)
    record.complete_risk_review(rid, "risk-flag-raised", "", fid, SW)
    record.inactivate_risk_flag(fid, "r", SW)
    record.record_diagnosis(did, "F32.1", "d", "active", "confirmed", None, PSY)
    record.change_diagnosis_status(did, "remission", None, "", PSY)
    record.record_medication(mid, "m", "d", "p", START, None, PSY)
    record.stop_medication(mid, LATER, "r", PSY)
    record.record_psychotherapy_note(nid, START, "t", SW)
    record.amend_psychotherapy_note(nid, "a", SW)
    record.record_substance_use_treatment(eid, "p", START, None, "", SW)
    record.end_substance_use_treatment(eid, LATER, "", SW)
    events = events_of(record)
    assert len(events) == 12
    for e in events:
        assert isinstance(e.provenance, Provenance)
        assert set(e.security) == {"confidentiality", "sensitivity", "law"}


# -- the service edge: messages → the record ------------------------------------------------

@pytest.fixture
def app() -> CareLoop:
    return create_care_app({"PERSISTENCE_MODULE": "eventsourcing.popo"})


def send(app: CareLoop, message_type: str, actor: dict[str, str] | None = None,
         **payload: Any) -> list[str]:
    doc = message(message_type, **payload)
    doc["actor"] = actor or doc["actor"]
    parsed = parse_message(json.dumps(doc).encode(), doc["source_system"], message_type)
    return execute(app, parsed).event_ids


def test_every_clinical_message_type_has_a_handler() -> None:
    assert set(HANDLERS) == set(MESSAGE_TYPES)


def test_clinical_facts_about_an_unregistered_client_are_refused(app: CareLoop) -> None:
    with pytest.raises(ClientNotRegistered) as caught:
        send(app, "screening.recorded")
    assert caught.value.field == "payload.client_id"
    assert not app.exists(ClinicalRecord.id_for(UUID(CLIENT_ID)))


def test_clinical_facts_about_a_discharged_client_are_refused(app: CareLoop) -> None:
    send(app, "client.registered")
    send(app, "client.discharged")
    with pytest.raises(DomainError) as caught:
        send(app, "risk_flag.raised")
    assert caught.value.code == "client_discharged"


def test_first_clinical_fact_starts_the_record_and_the_examples_play_in_order(
        app: CareLoop) -> None:
    send(app, "client.registered")
    first = send(app, "screening.recorded")
    assert len(first) == 3  # Started, ScreeningRecorded, RiskReviewRequested
    for message_type in list(MESSAGE_TYPES)[1:]:
        if message_type == "risk_review.completed":
            continue  # names the flag raised next
        assert len(send(app, message_type)) == 1, message_type
    send(app, "risk_review.completed")
    record = app.find(ClinicalRecord.id_for(UUID(CLIENT_ID)), ClinicalRecord)
    assert record is not None and record.client_id == UUID(CLIENT_ID)
    assert [r.status for r in record.risk_reviews.values()] == ["completed"]
    assert [f.status for f in record.risk_flags.values()] == ["inactive"]


def test_refused_message_saves_nothing_not_even_a_new_record(app: CareLoop) -> None:
    send(app, "client.registered")
    advocate = {"id": "ha-7", "role": "housing-advocate", "organisation": "harbor-housing"}
    with pytest.raises(ClinicalSourceNotOnTeam):  # not on the team: refused before the record
        send(app, "diagnosis.recorded", actor=advocate)
    assert app.exists(ClinicalRecord.id_for(UUID(CLIENT_ID))) is False
