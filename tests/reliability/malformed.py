"""Malformed messages, made by mutating the committed examples, each with the rejection
careloop owes the sender: a hypothesis strategy shared by the offline fuzz test and the
sample pushed through the real ingest over NATS."""

from __future__ import annotations

import copy
import json
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta, timezone
from math import inf
from typing import Any

from hypothesis import strategies as st

from contracts.v1.catalogue import MESSAGE_TYPES
from contracts.v1.input_limits import MAX_DEPTH, MAX_INT
from contracts.v1.parsing import MAX_FUTURE_SKEW, MAX_MESSAGE_BYTES
from tests.helpers import example

SUBJECT_FIELDS = {"message_type", "source_system"}
JSON_VALUES = st.one_of(
    st.none(), st.booleans(), st.integers(), st.floats(allow_nan=False),
    st.text(max_size=20), st.lists(st.integers(), max_size=3),
    st.dictionaries(st.text(max_size=5), st.integers(), max_size=2),
)


@dataclass(frozen=True)
class Malformed:
    mutation: str
    message_type: str
    """The type in the subject it is sent on."""
    source_system: str
    """The system in the subject it is sent on."""
    body: bytes
    path: str | None = None
    """The field the mutation touched (dotted, as problems name fields)."""
    codes: frozenset[str] = frozenset()
    """Rejection codes that are right for this mutation."""
    may_be_valid: bool = False
    """Some mutations (dropping an optional field, a lax type) can leave a valid message."""


def paths(doc: Any, prefix: str = "") -> list[str]:
    """Every field path in a document, dotted, list items by index."""
    found: list[str] = []
    items = doc.items() if isinstance(doc, dict) else enumerate(doc) if isinstance(doc, list) else []
    for key, value in items:
        path = f"{prefix}.{key}" if prefix else str(key)
        found.append(path)
        found += paths(value, path)
    return found


def _parent(doc: Any, path: str) -> tuple[Any, str | int]:
    *head, last = path.split(".")
    for part in head:
        doc = doc[int(part)] if isinstance(doc, list) else doc[part]
    return doc, int(last) if isinstance(doc, list) else last


def _encode(doc: Any) -> bytes:
    return json.dumps(doc).encode()


@st.composite
def malformed(draw: st.DrawFn, now: datetime | None = None) -> Malformed:
    message_type = draw(st.sampled_from(sorted(MESSAGE_TYPES)))
    doc = example(message_type)
    source = doc["source_system"]
    now = now or datetime.now(UTC)
    kind = draw(st.sampled_from([
        "drop", "retype", "extra", "huge", "oversized", "encoding", "not_json", "not_object",
        "future_version", "future_occurred_at", "unknown_type", "foreign_source", "flood",
        "hostile",
    ]))
    if kind == "hostile":
        return _hostile(draw, message_type, doc)
    if kind in ("drop", "retype", "extra", "huge"):
        candidates = paths(doc)
        if kind == "extra":
            candidates = [""] + [p for p in candidates if isinstance(_get(doc, p), dict)]
        elif kind == "huge":
            candidates = [p for p in candidates if isinstance(_get(doc, p), str)]
        path = draw(st.sampled_from(candidates))
        mutated = copy.deepcopy(doc)
        if kind == "extra":
            target = _get(mutated, path) if path else mutated
            key = draw(st.text("abcdefghijklmnopqrstuvwxyz_", min_size=1, max_size=12)
                       .filter(lambda k: k not in target))
            target[key] = draw(JSON_VALUES)
            path = f"{path}.{key}" if path else key
            return Malformed(kind, message_type, source, _encode(mutated), path,
                             frozenset({"schema_violation"}) | _limit_codes(target[key]))
        parent, last = _parent(mutated, path)
        if kind == "drop":
            del parent[last]  # type: ignore[arg-type]
        elif kind == "retype":
            original = parent[last]  # type: ignore[index]
            parent[last] = draw(JSON_VALUES.filter(  # type: ignore[index]
                lambda v, o=original: type(v) is not type(o)))
        else:
            parent[last] = draw(st.text(min_size=129, max_size=5000))  # type: ignore[index]
        return Malformed(kind, message_type, source, _encode(mutated), path,
                         _codes_for(path) | _limit_codes(
                             None if kind == "drop" else parent[last]),  # type: ignore[index]
                         may_be_valid=True)
    if kind == "flood":  # thousands of errors in one message
        n = draw(st.integers(21, 12_000))  # stays under the 256 KB limit
        doc["payload"].update({f"zz{i}": i for i in range(n)})
        return Malformed(kind, message_type, source, _encode(doc), "payload.zz0",
                         frozenset({"schema_violation"}))
    if kind == "oversized":
        doc["payload"]["padding"] = "x" * (MAX_MESSAGE_BYTES + draw(st.integers(1, 10_000)))
        return Malformed(kind, message_type, source, _encode(doc), None, frozenset({"too_large"}))
    if kind == "encoding":
        text = json.dumps(doc, ensure_ascii=False).replace(
            doc["actor"]["id"], doc["actor"]["id"] + draw(st.sampled_from(["é", "ø", "ü", "ñ"])))
        body = text.encode(draw(st.sampled_from(["latin-1", "cp1252"])))
        return Malformed(kind, message_type, source, body, None, frozenset({"invalid_encoding"}))
    if kind == "not_json":
        body = _encode(doc)[: draw(st.integers(0, 40))] + draw(st.sampled_from([b"", b"}{", b","]))
        return Malformed(kind, message_type, source, body, None, frozenset({"invalid_json"}))
    if kind == "not_object":
        value = draw(st.one_of(st.lists(st.integers(), max_size=3), st.integers(), st.text()))
        return Malformed(kind, message_type, source, _encode(value), None,
                         frozenset({"invalid_json"}) | _limit_codes(value))
    if kind == "future_version":
        doc["schema_version"] = draw(st.integers(2, 10**9))
        return Malformed(kind, message_type, source, _encode(doc), "schema_version",
                         frozenset({"unsupported_version"}))
    if kind == "future_occurred_at":
        ahead = draw(st.timedeltas(MAX_FUTURE_SKEW + timedelta(seconds=5),
                                   timedelta(days=365 * 50)))
        offset = timedelta(hours=draw(st.integers(-12, 14)))
        doc["occurred_at"] = (now + ahead).astimezone(timezone(offset)).isoformat()
        return Malformed(kind, message_type, source, _encode(doc), "occurred_at",
                         frozenset({"clock_skew"}))
    if kind == "unknown_type":
        unknown = draw(st.from_regex(r"\A[a-z_]{1,12}\.[a-z_]{1,12}\Z").filter(
            lambda t: t not in MESSAGE_TYPES))
        return Malformed(kind, unknown, source, _encode(doc), None,
                         frozenset({"unknown_message_type"}))
    other = draw(st.from_regex(r"\A[a-z0-9][a-z0-9-]{0,20}\Z").filter(lambda s: s != source))
    return Malformed(kind, message_type, other, _encode(doc), "source_system",
                     frozenset({"subject_mismatch"}))


def _limit_codes(value: Any) -> frozenset[str]:
    """Input limits a random value can break besides the schema (NUL, 64-bit integers)."""
    text = json.dumps(value)
    codes = {"unstorable_character"} if "\\u0000" in text else set()
    if any((isinstance(v, int) and abs(v) > MAX_INT) or (isinstance(v, float) and abs(v) == inf)
           for v in _values(value)):
        codes.add("number_out_of_range")
    return frozenset(codes)


def _values(value: Any) -> list[Any]:
    if isinstance(value, dict):
        return [v for item in value.values() for v in _values(item)]
    if isinstance(value, list):
        return [v for item in value for v in _values(item)]
    return [value]


HOSTILE: dict[str, tuple[str, str | None]] = {
    "deep": ("too_deep", None), "big_int": ("number_out_of_range", None),
    "duplicate_key": ("duplicate_key", "message_id"),
    "nul": ("unstorable_character", "actor.id"), "surrogate": ("unstorable_character", "actor.id"),
    "year_one": ("date_out_of_range", "occurred_at"),
}


def _hostile(draw: st.DrawFn, message_type: str, doc: dict[str, Any]) -> Malformed:
    """What breaks a naive parser or store: each with the specific code careloop owes."""
    how = draw(st.sampled_from(sorted(HOSTILE)))
    code, path = HOSTILE[how]
    source = doc["source_system"]
    if how == "deep":
        depth = draw(st.integers(MAX_DEPTH + 1, 60_000))
        doc["payload"]["nested"] = "@"
        body = _encode(doc).replace(b'"@"', b"[" * depth + b"]" * depth)
    elif how == "big_int":
        doc["payload"]["n"] = "@"
        digits = draw(st.integers(20, 50_000))
        body = _encode(doc).replace(b'"@"', b"9" * digits)
    elif how == "duplicate_key":
        body = _encode(doc).replace(b'"message_id":', b'"message_id": "first", "message_id":', 1)
    elif how in ("nul", "surrogate"):
        char = "\\u0000" if how == "nul" else "\\ud800"
        body = _encode(doc).replace(b'"id": "', f'"id": "{char}'.encode(), 1)
    else:
        year = draw(st.sampled_from(["0001", "1066", "1899", "2200", "9999"]))
        doc["occurred_at"] = f"{year}-06-01T00:00:00+01:00"
        body = _encode(doc)
    return Malformed(f"hostile:{how}", message_type, source, body, path, frozenset({code}))


def _get(doc: Any, path: str) -> Any:
    parent, last = _parent(doc, path)
    return parent[last]


def _codes_for(path: str) -> frozenset[str]:
    if path in SUBJECT_FIELDS:
        return frozenset({"subject_mismatch"})
    if path == "schema_version":
        return frozenset({"schema_violation", "unsupported_version"})
    if path == "occurred_at":  # a retyped number is read as a Unix time, maybe before 1900
        return frozenset({"schema_violation", "clock_skew", "date_out_of_range"})
    return frozenset({"schema_violation"})


def names_the_field(problem_field: str | None, path: str) -> bool:
    """A problem names the mutated field, or the object or list item that holds it."""
    if problem_field is None:
        return False
    return (problem_field == path or path.startswith(problem_field + ".")
            or problem_field.startswith(path + "."))
