"""A client's clinical record: screenings, risk, diagnoses, medications, therapy notes, SUD care.

One per client (its id derives from the client's). Each fact is labelled the moment it is
recorded (PSY, PSYTHPN, ETH/SUD under 42 CFR Part 2) so every view can decide what crosses to
whom without knowing clinical rules. Who may record what is checked before anything else, so a
refused advocate learns nothing about what the record holds.
"""

from __future__ import annotations

import copy
import re
from collections.abc import Mapping
from datetime import date
from functools import lru_cache
from typing import TypeVar
from uuid import NAMESPACE_URL, UUID, uuid5

from eventsourcing.domain import Aggregate, event

from domain import screening
from domain.clinical_record_items import (
    CodeNotAllowed,
    Diagnosis,
    DiagnosisEnteredInError,
    DiagnosisStatusUnchanged,
    DuplicateClinicalItem,
    InvalidIcd10Code,
    InvalidPeriod,
    Medication,
    MedicationAlreadyStopped,
    NotNoteAuthor,
    PsychotherapyNote,
    RiskFlag,
    RiskFlagInactive,
    RiskLevelUnchanged,
    RiskReview,
    RiskReviewAlreadyCompleted,
    RoleNotPermitted,
    Screening,
    TreatmentEpisode,
    TreatmentEpisodeEnded,
    UnknownClinicalItem,
    ValueRequired,
)
from domain.provenance import Provenance
from domain.security import (
    PSYCHIATRIC,
    PSYCHOTHERAPY_NOTE,
    RESTRICTED,
    SUBSTANCE_USE,
    UNLABELLED,
    SecurityLabels,
    labels,
)

CLINICAL_RECORD_NAMESPACE = uuid5(NAMESPACE_URL, "https://careloop.invalid/clinical-record")
ID_CACHE = 65_536
"""Client ids whose derived aggregate id is remembered (about 10 MB at most)."""

CLINICIANS = ("clinical-social-worker", "psychiatrist")
RISK_ROLES = (*CLINICIANS, "coordinator")
PSYCHIATRIST = ("psychiatrist",)

RISK_LEVELS = ("low", "moderate", "high", "imminent")
REVIEW_OUTCOMES = ("no-action-needed", "safety-plan-updated", "risk-flag-raised",
                   "urgent-assessment-arranged", "emergency-services-contacted")
CLINICAL_STATUSES = ("active", "recurrence", "relapse", "inactive", "remission", "resolved")
VERIFICATION_STATUSES = ("unconfirmed", "provisional", "differential", "confirmed", "refuted",
                         "entered-in-error")
ICD10CM = re.compile(r"^[A-Z][0-9][0-9A-Z](\.[0-9A-Z]{1,4})?$")
"""Letter, digit, alphanumeric, then optionally a dot and 1 to 4 more (e.g. F32.1, Z59.0, F10.20)."""

T = TypeVar("T")

RISK = labels(RESTRICTED)
"""Risk is restricted but not psychiatric: views may show advocates that a flag exists."""



class ClinicalRecord(Aggregate):
    @staticmethod
    @lru_cache(maxsize=ID_CACHE)
    def id_for(client_id: UUID) -> UUID:
        """The same id for a client every time (remembered: ingest asks for each command)."""
        return uuid5(CLINICAL_RECORD_NAMESPACE, str(client_id))

    @event("Started")
    def __init__(self, id: UUID, client_id: UUID, security: SecurityLabels,
                 provenance: Provenance) -> None:
        self.client_id = client_id
        self.screenings: dict[UUID, Screening] = {}
        self.risk_reviews: dict[UUID, RiskReview] = {}
        self.risk_flags: dict[UUID, RiskFlag] = {}
        self.diagnoses: dict[UUID, Diagnosis] = {}
        self.medications: dict[UUID, Medication] = {}
        self.notes: dict[UUID, PsychotherapyNote] = {}
        self.episodes: dict[UUID, TreatmentEpisode] = {}

    @classmethod
    def start(cls, client_id: UUID, provenance: Provenance) -> ClinicalRecord:
        return cls(id=cls.id_for(client_id), client_id=client_id,
                   security=copy.deepcopy(UNLABELLED), provenance=provenance)

    # -- screenings and the risk reviews they request ---------------------------------------

    def record_screening(self, screening_id: UUID, instrument: str, items: list[int],
                         total: int, p: Provenance) -> None:
        """A PHQ-9 whose item 9 is above 0 also requests a risk review, in the same command."""
        _role(p, CLINICIANS, "record a screening")
        _new(screening_id, self.screenings, "screening", "payload.screening_id")
        scored = screening.score(instrument, items, total)
        self._screening_recorded(
            screening_id=screening_id, instrument=instrument,
            loinc_code=scored.instrument.loinc_total, items=list(items), total=total,
            band=scored.band, security=copy.deepcopy(PSYCHIATRIC), provenance=p)
        if scored.needs_risk_review:
            self._risk_review_requested(
                review_id=screening_id, screening_id=screening_id,
                item_code=screening.PHQ9_SELF_HARM_LOINC, item_score=scored.self_harm_score,
                reason=f"PHQ-9 item 9 (thoughts of self-harm) scored {scored.self_harm_score}",
                security=copy.deepcopy(RISK), provenance=p)

    @event("ScreeningRecorded")
    def _screening_recorded(self, screening_id: UUID, instrument: str, loinc_code: str,
                            items: list[int], total: int, band: str, security: SecurityLabels,
                            provenance: Provenance) -> None:
        self.screenings[screening_id] = Screening(instrument, list(items), total, band)

    @event("RiskReviewRequested")
    def _risk_review_requested(self, review_id: UUID, screening_id: UUID, item_code: str,
                               item_score: int, reason: str, security: SecurityLabels,
                               provenance: Provenance) -> None:
        self.risk_reviews[review_id] = RiskReview(screening_id)

    def complete_risk_review(self, review_id: UUID, outcome: str, note: str,
                             flag_id: UUID | None, p: Provenance) -> None:
        """A review that ends in a raised flag names it, so the plan links cause and flag."""
        _role(p, CLINICIANS, "complete a risk review")
        review = _get(review_id, self.risk_reviews, "risk review", "payload.review_id")
        _one_of(outcome, REVIEW_OUTCOMES, "payload.outcome")
        if review.status == "completed":
            raise RiskReviewAlreadyCompleted(
                f"risk review {review_id} was already completed ({review.outcome})",
                field="payload.review_id")
        if outcome == "risk-flag-raised" and flag_id is None:
            raise ValueRequired("a review whose outcome is 'risk-flag-raised' names the flag",
                                field="payload.flag_id")
        if flag_id is not None:
            _get(flag_id, self.risk_flags, "risk flag", "payload.flag_id")
        self._risk_review_completed(review_id=review_id, outcome=outcome, note=note,
                                    flag_id=flag_id, reviewed_by=p.actor.id,
                                    security=copy.deepcopy(RISK), provenance=p)

    @event("RiskReviewCompleted")
    def _risk_review_completed(self, review_id: UUID, outcome: str, note: str,
                               flag_id: UUID | None, reviewed_by: str,
                               security: SecurityLabels, provenance: Provenance) -> None:
        review = self.risk_reviews[review_id]
        review.status, review.outcome = "completed", outcome

    # -- risk flags (FHIR Flag) ------------------------------------------------------------

    def raise_risk_flag(self, flag_id: UUID, level: str, reason: str, p: Provenance) -> None:
        _role(p, RISK_ROLES, "raise a risk flag")
        _new(flag_id, self.risk_flags, "risk flag", "payload.flag_id")
        _one_of(level, RISK_LEVELS, "payload.level")
        _text(reason, "payload.reason", "a risk flag needs a reason the clinical team can read")
        self._risk_flag_raised(flag_id=flag_id, level=level, reason=reason,
                               security=copy.deepcopy(RISK), provenance=p)

    @event("RiskFlagRaised")
    def _risk_flag_raised(self, flag_id: UUID, level: str, reason: str,
                          security: SecurityLabels, provenance: Provenance) -> None:
        self.risk_flags[flag_id] = RiskFlag(level, reason)

    def change_risk_level(self, flag_id: UUID, level: str, reason: str, p: Provenance) -> None:
        _role(p, RISK_ROLES, "change a risk level")
        flag = self._active_flag(flag_id)
        _one_of(level, RISK_LEVELS, "payload.level")
        if level == flag.level:
            raise RiskLevelUnchanged(f"risk flag {flag_id} is already '{level}'",
                                     field="payload.level")
        _text(reason, "payload.reason", "a change of risk level needs a reason")
        self._risk_flag_level_changed(flag_id=flag_id, level=level, previous_level=flag.level,
                                      reason=reason, security=copy.deepcopy(RISK), provenance=p)

    @event("RiskFlagLevelChanged")
    def _risk_flag_level_changed(self, flag_id: UUID, level: str, previous_level: str,
                                 reason: str, security: SecurityLabels,
                                 provenance: Provenance) -> None:
        self.risk_flags[flag_id].level = level

    def inactivate_risk_flag(self, flag_id: UUID, reason: str, p: Provenance) -> None:
        _role(p, RISK_ROLES, "inactivate a risk flag")
        self._active_flag(flag_id)
        _text(reason, "payload.reason", "inactivating a risk flag needs a reason")
        self._risk_flag_inactivated(flag_id=flag_id, reason=reason,
                                    security=copy.deepcopy(RISK), provenance=p)

    @event("RiskFlagInactivated")
    def _risk_flag_inactivated(self, flag_id: UUID, reason: str, security: SecurityLabels,
                               provenance: Provenance) -> None:
        self.risk_flags[flag_id].status = "inactive"

    def _active_flag(self, flag_id: UUID) -> RiskFlag:
        flag = _get(flag_id, self.risk_flags, "risk flag", "payload.flag_id")
        if flag.status != "active":
            raise RiskFlagInactive(f"risk flag {flag_id} is inactive; raise a new flag instead",
                                   field="payload.flag_id")
        return flag

    # -- diagnoses (FHIR Condition, ICD-10-CM), psychiatrist only --------------------------

    def record_diagnosis(self, diagnosis_id: UUID, code: str, display: str,
                         clinical_status: str, verification_status: str, onset: date | None,
                         p: Provenance) -> None:
        _role(p, PSYCHIATRIST, "record a diagnosis")
        _new(diagnosis_id, self.diagnoses, "diagnosis", "payload.diagnosis_id")
        if not ICD10CM.match(code):
            raise InvalidIcd10Code(
                f"'{code}' is not an ICD-10-CM code: a capital letter, a digit, a digit or "
                "capital letter, then optionally '.' and 1 to 4 more (e.g. F32.1, Z59.0)",
                field="payload.code")
        _text(display, "payload.display", "a diagnosis needs its display text")
        _one_of(clinical_status, CLINICAL_STATUSES, "payload.clinical_status")
        _one_of(verification_status, VERIFICATION_STATUSES[:-1], "payload.verification_status")
        self._diagnosis_recorded(
            diagnosis_id=diagnosis_id, code=code, display=display,
            clinical_status=clinical_status, verification_status=verification_status,
            onset_date=onset, security=copy.deepcopy(PSYCHIATRIC), provenance=p)

    @event("DiagnosisRecorded")
    def _diagnosis_recorded(self, diagnosis_id: UUID, code: str, display: str,
                            clinical_status: str, verification_status: str,
                            onset_date: date | None, security: SecurityLabels,
                            provenance: Provenance) -> None:
        self.diagnoses[diagnosis_id] = Diagnosis(code, display, clinical_status,
                                                 verification_status)

    def change_diagnosis_status(self, diagnosis_id: UUID, clinical_status: str | None,
                                verification_status: str | None, note: str,
                                p: Provenance) -> None:
        """Either status may change; entered-in-error is final and drops the clinical status
        (FHIR con-5: no clinicalStatus on a condition entered in error)."""
        _role(p, PSYCHIATRIST, "change a diagnosis")
        dx = _get(diagnosis_id, self.diagnoses, "diagnosis", "payload.diagnosis_id")
        if dx.verification_status == "entered-in-error":
            raise DiagnosisEnteredInError(
                f"diagnosis {diagnosis_id} was entered in error; record a new diagnosis instead",
                field="payload.diagnosis_id")
        if clinical_status is not None:
            _one_of(clinical_status, CLINICAL_STATUSES, "payload.clinical_status")
        if verification_status is not None:
            _one_of(verification_status, VERIFICATION_STATUSES, "payload.verification_status")
        verification = verification_status or dx.verification_status
        clinical = clinical_status or dx.clinical_status
        if verification == "entered-in-error":
            if clinical_status is not None:
                raise CodeNotAllowed("a diagnosis entered in error has no clinical status",
                                     field="payload.clinical_status")
            clinical = None
        if (clinical, verification) == (dx.clinical_status, dx.verification_status):
            raise DiagnosisStatusUnchanged(
                f"diagnosis {diagnosis_id} is already {dx.clinical_status}/"
                f"{dx.verification_status}", field="payload")
        self._diagnosis_status_changed(
            diagnosis_id=diagnosis_id, clinical_status=clinical, verification_status=verification,
            note=note, security=copy.deepcopy(PSYCHIATRIC), provenance=p)

    @event("DiagnosisStatusChanged")
    def _diagnosis_status_changed(self, diagnosis_id: UUID, clinical_status: str | None,
                                  verification_status: str, note: str, security: SecurityLabels,
                                  provenance: Provenance) -> None:
        dx = self.diagnoses[diagnosis_id]
        dx.clinical_status, dx.verification_status = clinical_status, verification_status

    # -- medications, psychiatrist only ----------------------------------------------------

    def record_medication(self, medication_id: UUID, name: str, dose: str, prescriber: str,
                          start: date, end: date | None, p: Provenance) -> None:
        _role(p, PSYCHIATRIST, "record a medication")
        _new(medication_id, self.medications, "medication", "payload.medication_id")
        _text(name, "payload.name", "a medication needs its name")
        _text(dose, "payload.dose", "a medication needs its dose")
        _text(prescriber, "payload.prescriber", "a medication needs its prescriber")
        _period(start, end, "payload.period_end")
        self._medication_recorded(medication_id=medication_id, name=name, dose=dose,
                                  prescriber=prescriber, period_start=start, period_end=end,
                                  security=copy.deepcopy(PSYCHIATRIC), provenance=p)

    @event("MedicationRecorded")
    def _medication_recorded(self, medication_id: UUID, name: str, dose: str, prescriber: str,
                             period_start: date, period_end: date | None,
                             security: SecurityLabels, provenance: Provenance) -> None:
        self.medications[medication_id] = Medication(name, dose, prescriber, period_start,
                                                     period_end)

    def stop_medication(self, medication_id: UUID, stopped_on: date, reason: str,
                        p: Provenance) -> None:
        _role(p, PSYCHIATRIST, "stop a medication")
        med = _get(medication_id, self.medications, "medication", "payload.medication_id")
        if med.status == "stopped":
            raise MedicationAlreadyStopped(f"medication {medication_id} was stopped on {med.end}",
                                           field="payload.medication_id")
        _period(med.start, stopped_on, "payload.stopped_on")
        _text(reason, "payload.reason", "stopping a medication needs a reason")
        self._medication_stopped(medication_id=medication_id, stopped_on=stopped_on,
                                 reason=reason, security=copy.deepcopy(PSYCHIATRIC),
                                 provenance=p)

    @event("MedicationStopped")
    def _medication_stopped(self, medication_id: UUID, stopped_on: date, reason: str,
                            security: SecurityLabels, provenance: Provenance) -> None:
        med = self.medications[medication_id]
        med.status, med.end = "stopped", stopped_on

    # -- psychotherapy notes: the author's alone -------------------------------------------

    def record_psychotherapy_note(self, note_id: UUID, session_date: date, text: str,
                                  p: Provenance) -> None:
        _role(p, CLINICIANS, "record a psychotherapy note")
        _new(note_id, self.notes, "psychotherapy note", "payload.note_id")
        _text(text, "payload.text", "a psychotherapy note needs text")
        self._note_recorded(note_id=note_id, author=p.actor.id,
                            author_organisation=p.actor.organisation, session_date=session_date,
                            text=text, security=copy.deepcopy(PSYCHOTHERAPY_NOTE), provenance=p)

    @event("PsychotherapyNoteRecorded")
    def _note_recorded(self, note_id: UUID, author: str, author_organisation: str,
                       session_date: date, text: str, security: SecurityLabels,
                       provenance: Provenance) -> None:
        self.notes[note_id] = PsychotherapyNote(author, author_organisation, text)

    def amend_psychotherapy_note(self, note_id: UUID, text: str, p: Provenance) -> None:
        """Amendments are appended; the note as first written never changes."""
        _role(p, CLINICIANS, "amend a psychotherapy note")
        note = _get(note_id, self.notes, "psychotherapy note", "payload.note_id")
        if (p.actor.id, p.actor.organisation) != (note.author, note.author_organisation):
            raise NotNoteAuthor(
                f"psychotherapy note {note_id} may be amended only by its author",
                field="actor.id")
        _text(text, "payload.text", "an amendment needs text")
        self._note_amended(note_id=note_id, author=p.actor.id, text=text,
                           security=copy.deepcopy(PSYCHOTHERAPY_NOTE), provenance=p)

    @event("PsychotherapyNoteAmended")
    def _note_amended(self, note_id: UUID, author: str, text: str, security: SecurityLabels,
                      provenance: Provenance) -> None:
        self.notes[note_id].amendments.append(text)

    # -- substance-use treatment (42 CFR Part 2) -------------------------------------------

    def record_substance_use_treatment(self, episode_id: UUID, program: str, started_on: date,
                                       ended_on: date | None, summary: str,
                                       p: Provenance) -> None:
        _role(p, CLINICIANS, "record substance-use treatment")
        _new(episode_id, self.episodes, "treatment episode", "payload.episode_id")
        _text(program, "payload.program", "a treatment episode names its program")
        _period(started_on, ended_on, "payload.ended_on")
        self._sud_recorded(episode_id=episode_id, program=program, started_on=started_on,
                           ended_on=ended_on, summary=summary,
                           security=copy.deepcopy(SUBSTANCE_USE), provenance=p)

    @event("SubstanceUseTreatmentRecorded")
    def _sud_recorded(self, episode_id: UUID, program: str, started_on: date,
                      ended_on: date | None, summary: str, security: SecurityLabels,
                      provenance: Provenance) -> None:
        self.episodes[episode_id] = TreatmentEpisode(program, started_on, ended_on,
                                                     provenance.actor.organisation)

    def part2_programmes(self) -> set[str]:
        """Organisations holding this client's substance-use (42 CFR Part 2) records."""
        return {e.organisation for e in self.episodes.values()}

    def end_substance_use_treatment(self, episode_id: UUID, ended_on: date, summary: str,
                                    p: Provenance) -> None:
        _role(p, CLINICIANS, "end substance-use treatment")
        episode = _get(episode_id, self.episodes, "treatment episode", "payload.episode_id")
        if episode.end is not None:
            raise TreatmentEpisodeEnded(f"treatment episode {episode_id} ended on {episode.end}",
                                        field="payload.episode_id")
        _period(episode.start, ended_on, "payload.ended_on")
        self._sud_ended(episode_id=episode_id, ended_on=ended_on, summary=summary,
                        security=copy.deepcopy(SUBSTANCE_USE), provenance=p)

    @event("SubstanceUseTreatmentEnded")
    def _sud_ended(self, episode_id: UUID, ended_on: date, summary: str,
                   security: SecurityLabels, provenance: Provenance) -> None:
        self.episodes[episode_id].end = ended_on


# -- rules shared by every command ---------------------------------------------------------

def _role(p: Provenance, allowed: tuple[str, ...], action: str) -> None:
    if p.actor.role not in allowed:
        raise RoleNotPermitted(
            f"only {' or '.join(allowed)} may {action}; '{p.actor.role}' may not",
            field="actor.role")


def _new(item_id: UUID, items: Mapping[UUID, object], kind: str, field_name: str) -> None:
    if item_id in items:
        raise DuplicateClinicalItem(f"{kind} {item_id} is already recorded; a new {kind} needs "
                                    "a new id", field=field_name)


def _get(item_id: UUID, items: dict[UUID, T], kind: str, field_name: str) -> T:
    if item_id not in items:
        raise UnknownClinicalItem(f"no {kind} {item_id} on this clinical record",
                                  field=field_name)
    return items[item_id]


def _one_of(value: str, allowed: tuple[str, ...], field_name: str) -> None:
    if value not in allowed:
        raise CodeNotAllowed(f"'{value}' is not one of {', '.join(allowed)}", field=field_name)


def _text(value: str, field_name: str, rule: str) -> None:
    if not value.strip():
        raise ValueRequired(rule, field=field_name)


def _period(start: date, end: date | None, field_name: str) -> None:
    if end is not None and end < start:
        raise InvalidPeriod(f"{end} is before the start of the period ({start})",
                            field=field_name)
