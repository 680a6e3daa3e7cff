"""What the clinical record holds (state) and how it refuses (errors).

Kept apart from ``domain/clinical_record.py`` so the aggregate module stays readable; none of
this is written into events.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date
from uuid import UUID

from domain.errors import DomainError


class ClinicalRecordError(DomainError):
    """A clinical-record rule refused the change."""

    code = "clinical_record_rule"


class RoleNotPermitted(ClinicalRecordError):
    """The actor's role may not record this clinical fact."""

    code = "role_not_permitted"


class DuplicateClinicalItem(ClinicalRecordError):
    """A clinical item with that id already exists."""

    code = "clinical_item_exists"


class UnknownClinicalItem(ClinicalRecordError):
    """No clinical item with that id in the client's record."""

    code = "clinical_item_not_found"


class ValueRequired(ClinicalRecordError):
    """A required clinical value is blank."""

    code = "clinical_value_required"


class CodeNotAllowed(ClinicalRecordError):
    """The code is not allowed for this kind of clinical fact."""

    code = "clinical_code_not_allowed"


class InvalidIcd10Code(ClinicalRecordError):
    """The diagnosis code is not a well-formed ICD-10-CM code."""

    code = "invalid_icd10cm_code"


class InvalidPeriod(ClinicalRecordError):
    """The period ends before it starts."""

    code = "invalid_period"


class RiskFlagInactive(ClinicalRecordError):
    """The risk flag is not active."""

    code = "risk_flag_not_active"


class RiskLevelUnchanged(ClinicalRecordError):
    """The risk flag already has that level."""

    code = "risk_level_unchanged"


class RiskReviewAlreadyCompleted(ClinicalRecordError):
    """The risk review is already completed."""

    code = "risk_review_already_completed"


class DiagnosisEnteredInError(ClinicalRecordError):
    """The diagnosis was entered in error and cannot change."""

    code = "diagnosis_entered_in_error"


class DiagnosisStatusUnchanged(ClinicalRecordError):
    """The diagnosis already has that status."""

    code = "diagnosis_status_unchanged"


class MedicationAlreadyStopped(ClinicalRecordError):
    """The medication is already stopped."""

    code = "medication_already_stopped"


class NotNoteAuthor(ClinicalRecordError):
    """Only the note's author may amend it."""

    code = "not_note_author"


class TreatmentEpisodeEnded(ClinicalRecordError):
    """The substance-use treatment episode already ended."""

    code = "treatment_episode_already_ended"


@dataclass
class Screening:
    instrument: str
    items: list[int]
    total: int
    band: str


@dataclass
class RiskReview:
    screening_id: UUID
    status: str = "requested"
    outcome: str | None = None


@dataclass
class RiskFlag:
    level: str
    reason: str
    status: str = "active"


@dataclass
class Diagnosis:
    code: str
    display: str
    clinical_status: str | None
    verification_status: str


@dataclass
class Medication:
    name: str
    dose: str
    prescriber: str
    start: date
    end: date | None
    status: str = "active"


@dataclass
class PsychotherapyNote:
    author: str
    author_organisation: str
    text: str
    amendments: list[str] = field(default_factory=list)


@dataclass
class TreatmentEpisode:
    program: str
    start: date
    end: date | None
    organisation: str = ""
    """The Part 2 programme's organisation: the one whose clinician recorded the episode."""
