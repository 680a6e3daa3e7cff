"""Evidence that a consent is the client's own act: who signed, how, when, which document.

Stored on the consent as a plain dict (``signed_by``, ``representative``, ``method``,
``witness``, ``signed_at`` as an ISO 8601 timestamp with offset, ``document_reference``), so
the event keeps only JSON values. A consent becomes active (or is recorded as refused) only
with evidence; a draft may wait for it until it is activated.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime

from domain.errors import DomainError

SIGNERS = ("client", "legal-representative")
METHODS = ("written", "electronic", "verbal-with-witness")
NEEDS_EVIDENCE = ("active", "rejected")
"""Statuses that state the client's decision, and so need evidence of it."""

Evidence = dict[str, str | None]


class ConsentEvidenceRequired(DomainError):
    """Rule consent_is_the_clients_act: an active or rejected consent carries evidence (who signed, how, when, document)."""

    code = "consent_evidence_required"
    rule = "consent_is_the_clients_act"


class ConsentEvidenceInvalid(DomainError):
    """The consent evidence contradicts itself (no witness, no representative, signed after it was reported, no document)."""

    code = "consent_evidence_invalid"
    rule = "consent_evidence"


def _text(evidence: Mapping[str, str | None], key: str) -> str:
    value = evidence.get(key)
    return value.strip() if isinstance(value, str) else ""


def check_evidence(evidence: Mapping[str, str | None] | None, status: str,
                   recorded_at: datetime, field: str = "payload.evidence") -> None:
    """Refuse missing evidence for a decided consent, and evidence that contradicts itself."""
    if evidence is None:
        if status in NEEDS_EVIDENCE:
            raise ConsentEvidenceRequired(
                f"a consent that is '{status}' needs evidence of the client's decision: who "
                "signed (client or legal representative), how (written, electronic, verbal "
                "with witness), when, and the document reference", field=field)
        return
    signer, method = _text(evidence, "signed_by"), _text(evidence, "method")
    if signer not in SIGNERS:
        raise ConsentEvidenceInvalid(f"signed_by is one of {', '.join(SIGNERS)}",
                                     field=f"{field}.signed_by")
    if signer == "legal-representative" and not _text(evidence, "representative"):
        raise ConsentEvidenceInvalid("a legal representative who signs is named",
                                     field=f"{field}.representative")
    if method not in METHODS:
        raise ConsentEvidenceInvalid(f"method is one of {', '.join(METHODS)}",
                                     field=f"{field}.method")
    if method == "verbal-with-witness" and not _text(evidence, "witness"):
        raise ConsentEvidenceInvalid("a verbal consent names its witness",
                                     field=f"{field}.witness")
    if not _text(evidence, "document_reference"):
        raise ConsentEvidenceInvalid("the evidence names the signed document or recording",
                                     field=f"{field}.document_reference")
    try:
        signed_at = datetime.fromisoformat(_text(evidence, "signed_at"))
    except ValueError as e:
        raise ConsentEvidenceInvalid("signed_at is an ISO 8601 timestamp with offset",
                                     field=f"{field}.signed_at") from e
    if signed_at.tzinfo is None:
        raise ConsentEvidenceInvalid("signed_at needs its UTC offset", field=f"{field}.signed_at")
    if signed_at > recorded_at:
        raise ConsentEvidenceInvalid(
            f"the consent was signed at {signed_at.isoformat()}, after the message reporting "
            f"it ({recorded_at.isoformat()})", field=f"{field}.signed_at")
