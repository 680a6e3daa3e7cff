"""Reading FHIR security labels on view entries, and removing labelled entries wholesale.

Every sensitive entry in the full care-plan document carries ``security`` labels
(``{"confidentiality", "sensitivity", "law"}``) from the moment it was recorded. Role views
use these predicates to leave such entries out when they are written.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

Doc = dict[str, Any]
Predicate = Callable[[Doc], bool]


def _labels(entry: Any) -> Doc:
    security = entry.get("security") if isinstance(entry, dict) else None
    return security if isinstance(security, dict) else {}


def is_substance_use(entry: Any) -> bool:
    s = _labels(entry)
    return bool({"ETH", "SUD"} & set(s.get("sensitivity") or ())) or "42CFRPart2" in (
        s.get("law") or ())


def is_psychotherapy_note(entry: Any) -> bool:
    return "PSYTHPN" in (_labels(entry).get("sensitivity") or ())


def is_psychiatric(entry: Any) -> bool:
    return "PSY" in (_labels(entry).get("sensitivity") or ())


def is_domestic_violence(entry: Any) -> bool:
    return "SDV" in (_labels(entry).get("sensitivity") or ())


def without(value: Any, drop: Predicate) -> Any:
    """A deep copy of ``value`` with every labelled entry matching ``drop`` removed, at any
    depth (entries in lists, and values of id-keyed mappings)."""
    if isinstance(value, list):
        return [without(v, drop) for v in value if not (isinstance(v, dict) and drop(v))]
    if isinstance(value, dict):
        return {k: without(v, drop) for k, v in value.items()
                if not (isinstance(v, dict) and "security" in v and drop(v))}
    return value
