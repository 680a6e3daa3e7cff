"""Clinical messages → the client's ClinicalRecord aggregate.

Every clinical message names its client; the record is started on the first fact about them,
and only for a registered client who has not been discharged. Clinical data comes only from
clinicians of the custodian or of an organisation on the client's care team.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from domain import authority
from domain.client import Client
from domain.clinical_record import ClinicalRecord
from domain.provenance import Provenance
from services.commands.support import Handler, per_client_step, recording_date


def _clinicians_on_team(client: Client, p: Provenance) -> None:
    authority.require_clinician_on_team(client, p, "record clinical data about this client",
                                        recording_date())


def _on_record(step: Callable[[ClinicalRecord, Any, Provenance], None]) -> Handler:
    return per_client_step(ClinicalRecord, step, _clinicians_on_team)


HANDLERS: dict[str, Handler] = {
    "screening.recorded": _on_record(
        lambda r, pl, p: r.record_screening(pl.screening_id, pl.instrument, pl.items, pl.total, p)
    ),
    "risk_review.completed": _on_record(
        lambda r, pl, p: r.complete_risk_review(pl.review_id, pl.outcome, pl.note, pl.flag_id, p)
    ),
    "risk_flag.raised": _on_record(
        lambda r, pl, p: r.raise_risk_flag(pl.flag_id, pl.level, pl.reason, p)
    ),
    "risk_flag.level_changed": _on_record(
        lambda r, pl, p: r.change_risk_level(pl.flag_id, pl.level, pl.reason, p)
    ),
    "risk_flag.inactivated": _on_record(
        lambda r, pl, p: r.inactivate_risk_flag(pl.flag_id, pl.reason, p)
    ),
    "diagnosis.recorded": _on_record(
        lambda r, pl, p: r.record_diagnosis(
            pl.diagnosis_id, pl.code, pl.display, pl.clinical_status, pl.verification_status,
            pl.onset_date, p)
    ),
    "diagnosis.status_changed": _on_record(
        lambda r, pl, p: r.change_diagnosis_status(
            pl.diagnosis_id, pl.clinical_status, pl.verification_status, pl.note, p)
    ),
    "medication.recorded": _on_record(
        lambda r, pl, p: r.record_medication(
            pl.medication_id, pl.name, pl.dose, pl.prescriber, pl.period_start, pl.period_end, p)
    ),
    "medication.stopped": _on_record(
        lambda r, pl, p: r.stop_medication(pl.medication_id, pl.stopped_on, pl.reason, p)
    ),
    "psychotherapy_note.recorded": _on_record(
        lambda r, pl, p: r.record_psychotherapy_note(pl.note_id, pl.session_date, pl.text, p)
    ),
    "psychotherapy_note.amended": _on_record(
        lambda r, pl, p: r.amend_psychotherapy_note(pl.note_id, pl.text, p)
    ),
    "substance_use_treatment.recorded": _on_record(
        lambda r, pl, p: r.record_substance_use_treatment(
            pl.episode_id, pl.program, pl.started_on, pl.ended_on, pl.summary, p)
    ),
    "substance_use_treatment.ended": _on_record(
        lambda r, pl, p: r.end_substance_use_treatment(pl.episode_id, pl.ended_on, pl.summary, p)
    ),
}
