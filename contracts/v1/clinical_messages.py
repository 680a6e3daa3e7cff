"""Messages that add to a client's clinical record: screenings, risk, diagnoses, medications,
psychotherapy notes and substance-use treatment (docs/domain.md).

The contract checks shape only. Clinical rules (item ranges, totals, ICD-10-CM format, who may
record what) are the domain's, so a refusal names the rule rather than a JSON Schema keyword.
"""

from __future__ import annotations

from datetime import date
from typing import Annotated, Literal
from uuid import UUID

from pydantic import Field

from contracts.v1.envelope import Envelope, Strict

Instrument = Literal["PHQ-9", "GAD-7"]
RiskLevel = Literal["low", "moderate", "high", "imminent"]
ReviewOutcome = Literal["no-action-needed", "safety-plan-updated", "risk-flag-raised",
                        "urgent-assessment-arranged", "emergency-services-contacted"]
ClinicalStatus = Literal["active", "recurrence", "relapse", "inactive", "remission", "resolved"]
VerificationStatus = Literal["unconfirmed", "provisional", "differential", "confirmed",
                             "refuted", "entered-in-error"]
Score = Annotated[int, Field(strict=True)]

REASON = Field(min_length=1, max_length=2000, description="Why, in words the clinical team reads.")
NOTE = Field(default="", max_length=4000, description="Free text for the clinical team.")


class RecordRef(Strict):
    client_id: UUID = Field(description="The registered client whose clinical record this is.")


class ScreeningRecordedPayload(RecordRef):
    screening_id: UUID = Field(description="The screening's id (UUID), chosen by the sender.")
    instrument: Instrument = Field(
        description="PHQ-9 (LOINC 44261-6, 9 items) or GAD-7 (LOINC 70274-6, 7 items).")
    items: list[Score] = Field(
        max_length=32,
        description="Each item's score in questionnaire order, 0 to 3 each; the domain refuses "
        "a wrong count or an out-of-range score, naming the item (payload.items[i]).")
    total: Score = Field(description="The reported total; it must equal the sum of the items.")


class RiskReviewCompletedPayload(RecordRef):
    review_id: UUID = Field(
        description="The review's id; a review requested by a PHQ-9 has that screening's id.")
    outcome: ReviewOutcome = Field(description="What the review decided.")
    note: str = NOTE
    flag_id: UUID | None = Field(
        default=None,
        description="The risk flag raised as a result; required when outcome is "
        "'risk-flag-raised' (send risk_flag.raised first).")


class RiskFlagRaisedPayload(RecordRef):
    flag_id: UUID = Field(description="The flag's id (UUID), chosen by the sender.")
    level: RiskLevel = Field(description="How serious the risk is.")
    reason: str = REASON


class RiskFlagLevelChangedPayload(RecordRef):
    flag_id: UUID = Field(description="An active flag on the record.")
    level: RiskLevel = Field(description="The new level; must differ from the current one.")
    reason: str = REASON


class RiskFlagInactivatedPayload(RecordRef):
    flag_id: UUID = Field(description="An active flag on the record.")
    reason: str = REASON


class DiagnosisRecordedPayload(RecordRef):
    diagnosis_id: UUID = Field(description="The diagnosis's id (UUID), chosen by the sender.")
    code: str = Field(min_length=1, max_length=16,
                      description="ICD-10-CM code with its dot, e.g. 'F32.1', 'F41.1', 'Z59.0'.")
    display: str = Field(min_length=1, max_length=500, description="The code's display text.")
    clinical_status: ClinicalStatus = Field(description="FHIR Condition clinicalStatus.")
    verification_status: VerificationStatus = Field(
        description="FHIR Condition verificationStatus; a new diagnosis cannot be "
        "'entered-in-error'.")
    onset_date: date | None = Field(default=None, description="When the condition began.")


class DiagnosisStatusChangedPayload(RecordRef):
    diagnosis_id: UUID = Field(description="A diagnosis on the record.")
    clinical_status: ClinicalStatus | None = Field(
        default=None, description="The new clinicalStatus, if it changes.")
    verification_status: VerificationStatus | None = Field(
        default=None,
        description="The new verificationStatus, if it changes; 'entered-in-error' is final "
        "and clears the clinical status.")
    note: str = NOTE


class MedicationRecordedPayload(RecordRef):
    medication_id: UUID = Field(description="The medication's id (UUID), chosen by the sender.")
    name: str = Field(min_length=1, max_length=200, description="Medication name, e.g. 'sertraline'.")
    dose: str = Field(min_length=1, max_length=200, description="Dose and frequency as prescribed.")
    prescriber: str = Field(min_length=1, max_length=128, description="Who prescribed it.")
    period_start: date = Field(description="First day of the prescription.")
    period_end: date | None = Field(default=None, description="Planned last day, if known.")


class MedicationStoppedPayload(RecordRef):
    medication_id: UUID = Field(description="A medication on the record, not yet stopped.")
    stopped_on: date = Field(description="Last day taken; not before the period start.")
    reason: str = REASON


class PsychotherapyNoteRecordedPayload(RecordRef):
    note_id: UUID = Field(description="The note's id (UUID), chosen by the sender.")
    session_date: date = Field(description="The session the note is about.")
    text: str = Field(min_length=1, max_length=20000,
                      description="The note; kept to its author (PSYTHPN).")


class PsychotherapyNoteAmendedPayload(RecordRef):
    note_id: UUID = Field(description="A note written by the same actor.")
    text: str = Field(min_length=1, max_length=20000,
                      description="The amendment, appended; the original note never changes.")


class SubstanceUseTreatmentRecordedPayload(RecordRef):
    episode_id: UUID = Field(description="The treatment episode's id (UUID), chosen by the sender.")
    program: str = Field(min_length=1, max_length=200, description="The treatment program.")
    started_on: date = Field(description="First day of the episode.")
    ended_on: date | None = Field(default=None, description="Last day, if already over.")
    summary: str = Field(default="", max_length=4000, description="Treatment summary.")


class SubstanceUseTreatmentEndedPayload(RecordRef):
    episode_id: UUID = Field(description="An episode on the record that has not ended.")
    ended_on: date = Field(description="Last day of the episode; not before it started.")
    summary: str = Field(default="", max_length=4000, description="Discharge summary.")


class ScreeningRecorded(Envelope):
    """A PHQ-9 or GAD-7 was completed (a PHQ-9 item 9 above 0 also requests a risk review)."""

    message_type: Literal["screening.recorded"]
    payload: ScreeningRecordedPayload


class RiskReviewCompleted(Envelope):
    """A clinician completed a requested risk review, with its outcome."""

    message_type: Literal["risk_review.completed"]
    payload: RiskReviewCompletedPayload


class RiskFlagRaised(Envelope):
    """A risk flag (FHIR Flag) was raised with a level and a reason."""

    message_type: Literal["risk_flag.raised"]
    payload: RiskFlagRaisedPayload


class RiskFlagLevelChanged(Envelope):
    """An active risk flag's level changed."""

    message_type: Literal["risk_flag.level_changed"]
    payload: RiskFlagLevelChangedPayload


class RiskFlagInactivated(Envelope):
    """An active risk flag no longer applies (→ inactive)."""

    message_type: Literal["risk_flag.inactivated"]
    payload: RiskFlagInactivatedPayload


class DiagnosisRecorded(Envelope):
    """A psychiatrist recorded a diagnosis (ICD-10-CM, FHIR Condition statuses; PSY)."""

    message_type: Literal["diagnosis.recorded"]
    payload: DiagnosisRecordedPayload


class DiagnosisStatusChanged(Envelope):
    """A psychiatrist changed a diagnosis's clinical or verification status."""

    message_type: Literal["diagnosis.status_changed"]
    payload: DiagnosisStatusChangedPayload


class MedicationRecorded(Envelope):
    """A psychiatrist recorded a medication with dose, prescriber and period (PSY)."""

    message_type: Literal["medication.recorded"]
    payload: MedicationRecordedPayload


class MedicationStopped(Envelope):
    """A psychiatrist stopped a medication, with a reason."""

    message_type: Literal["medication.stopped"]
    payload: MedicationStoppedPayload


class PsychotherapyNoteRecorded(Envelope):
    """A therapist wrote a psychotherapy note, visible to its author only (PSYTHPN)."""

    message_type: Literal["psychotherapy_note.recorded"]
    payload: PsychotherapyNoteRecordedPayload


class PsychotherapyNoteAmended(Envelope):
    """The author appended an amendment to their own psychotherapy note."""

    message_type: Literal["psychotherapy_note.amended"]
    payload: PsychotherapyNoteAmendedPayload


class SubstanceUseTreatmentRecorded(Envelope):
    """A substance-use treatment episode was recorded (ETH/SUD, 42 CFR Part 2)."""

    message_type: Literal["substance_use_treatment.recorded"]
    payload: SubstanceUseTreatmentRecordedPayload


class SubstanceUseTreatmentEnded(Envelope):
    """A substance-use treatment episode ended."""

    message_type: Literal["substance_use_treatment.ended"]
    payload: SubstanceUseTreatmentEndedPayload


MESSAGE_TYPES: dict[str, type[Envelope]] = {
    "screening.recorded": ScreeningRecorded,
    "risk_review.completed": RiskReviewCompleted,
    "risk_flag.raised": RiskFlagRaised,
    "risk_flag.level_changed": RiskFlagLevelChanged,
    "risk_flag.inactivated": RiskFlagInactivated,
    "diagnosis.recorded": DiagnosisRecorded,
    "diagnosis.status_changed": DiagnosisStatusChanged,
    "medication.recorded": MedicationRecorded,
    "medication.stopped": MedicationStopped,
    "psychotherapy_note.recorded": PsychotherapyNoteRecorded,
    "psychotherapy_note.amended": PsychotherapyNoteAmended,
    "substance_use_treatment.recorded": SubstanceUseTreatmentRecorded,
    "substance_use_treatment.ended": SubstanceUseTreatmentEnded,
}
