"""What an auditor's history shows of restricted content: redacted, unless an investigation
grant is open; psychotherapy-note text never.

The same rule for every shape an auditor reads (timeline events, as-of documents, aggregate
states): any part carrying R or V confidentiality keeps only what identifies it (ids,
labels, status, level, band, instrument, author and dates) and says ``"redacted": true``.
Contact details are never part of an auditor's answer. Pure functions.
"""

from __future__ import annotations

from typing import Any

KEEP = {"security", "status", "level", "band", "instrument", "loinc_code", "author",
        "author_id", "author_organisation", "author_role", "discipline", "session_date",
        "recorded_at", "date", "raised", "recorded", "clinical_status", "sensitive_topic"}
CONTACT_EVENTS = ("client.contact_updated",)
CONTACT_KEYS = ("contact",)
REDACTED = "redacted"


def _labels(value: Any) -> dict[str, Any]:
    security = value.get("security") if isinstance(value, dict) else None
    return security if isinstance(security, dict) else {}


def _combined(value: dict[str, Any]) -> bool:
    """Labels that sum up labelled parts (a minuted agenda item): the parts decide."""
    for child in value.values():
        for part in (child if isinstance(child, list) else [child]):
            if isinstance(part, dict) and "security" in part:
                return True
    return False


def _restricted(value: Any, grant: bool) -> bool:
    if _combined(value):
        return False
    labels = _labels(value)
    if "PSYTHPN" in (labels.get("sensitivity") or ()):
        return True  # a psychotherapy note's text is its author's, whatever the grant
    return not grant and labels.get("confidentiality") in ("R", "V")


def _stub(entry: dict[str, Any]) -> dict[str, Any]:
    kept = {k: v for k, v in entry.items() if k in KEEP or k.endswith("_id") or k == "id"}
    return {**kept, REDACTED: True}


def redact(value: Any, grant: bool = False) -> Any:
    """A copy of ``value`` with every restricted part reduced to its stub."""
    if isinstance(value, list):
        return [redact(v, grant) for v in value]
    if isinstance(value, dict):
        if _restricted(value, grant):
            return _stub(value)
        return {k: (None if k in CONTACT_KEYS else redact(v, grant)) for k, v in value.items()}
    return value


def redact_record(record: dict[str, Any], grant: bool = False) -> dict[str, Any]:
    """One timeline event: its data redacted; a contact change shows that it happened only."""
    if record.get("event_type") in CONTACT_EVENTS:
        return {**record, "data": {REDACTED: True}}
    return {**record, "data": redact(record.get("data"), grant)}
