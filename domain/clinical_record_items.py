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
    code = "clinical_record_rule"


class RoleNotPermitted(ClinicalRecordError):
    code = "role_not_permitted"


class DuplicateClinicalItem(ClinicalRecordError):
    code = "clinical_item_exists"


class UnknownClinicalItem(ClinicalRecordError):
    code = "clinical_item_not_found"


class ValueRequired(ClinicalRecordError):
    code = "clinical_value_required"


class CodeNotAllowed(ClinicalRecordError):
    code = "clinical_code_not_allowed"


class InvalidIcd10Code(ClinicalRecordError):
    code = "invalid_icd10cm_code"


class InvalidPeriod(ClinicalRecordError):
    code = "invalid_period"


class RiskFlagInactive(ClinicalRecordError):
    code = "risk_flag_not_active"


class RiskLevelUnchanged(ClinicalRecordError):
    code = "risk_level_unchanged"


class RiskReviewAlreadyCompleted(ClinicalRecordError):
    code = "risk_review_already_completed"


class DiagnosisEnteredInError(ClinicalRecordError):
    code = "diagnosis_entered_in_error"


class DiagnosisStatusUnchanged(ClinicalRecordError):
    code = "diagnosis_status_unchanged"


class MedicationAlreadyStopped(ClinicalRecordError):
    code = "medication_already_stopped"


class NotNoteAuthor(ClinicalRecordError):
    code = "not_note_author"


class TreatmentEpisodeEnded(ClinicalRecordError):
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
