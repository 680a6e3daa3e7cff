"""What careloop can hold, checked before anything else reads a message: a total JSON decoder.

Python's ``json`` raises ``RecursionError`` on deep nesting and ``ValueError`` on integers of
thousands of digits, keeps the last of duplicate keys silently, and accepts ``\\u0000`` and
lone surrogates that no store can hold (PostgreSQL text refuses NUL; UTF-8 cannot encode a
surrogate). ``decode`` answers every input with a value or an ``InputRefused`` naming the
limit, so the caller (NATS ingest, HTTP) can always answer the sender. The limits:

- nesting of arrays and objects at most ``MAX_DEPTH`` deep;
- integers within a signed 64-bit range, other numbers finite, no ``NaN``/``Infinity``;
- no object with the same key twice;
- no NUL (U+0000) and no lone surrogate (U+D800-U+DFFF) in any key or string;
- dates and times between ``EARLIEST`` and ``LATEST`` (``check_dates``, after validation).
"""

from __future__ import annotations

import json
import re
from datetime import date, datetime
from enum import Enum
from types import UnionType
from typing import Annotated, Any, Literal, Union, get_args, get_origin
from uuid import UUID

from pydantic import BaseModel

MAX_DEPTH = 32
"""Deepest nesting accepted; the deepest contract needs 4."""
MAX_INT = 2**63 - 1
MAX_NUMBER_CHARS = 64
EARLIEST = date(1900, 1, 1)
LATEST = date(2199, 12, 31)
"""Dates and times outside these are refused (``date_out_of_range``): year 1 or 9999 with an
offset overflows time-zone arithmetic, and no care fact is dated there."""

_STRINGS = re.compile(rb'"(?:[^"\\]|\\.)*"', re.DOTALL)
_BRACKETS = re.compile(rb"[\[\]{}]")
_UNSTORABLE = re.compile("[\x00\ud800-\udfff]")
_ESCAPED_UNSTORABLE = re.compile(rb"\\u(?:0000|[dD][89a-fA-F][0-9a-fA-F]{2})")
"""In valid JSON, NUL and lone surrogates can only arrive as these escapes (raw control
characters are refused by the parser, raw surrogates are not UTF-8): without one, the walk
over every string is skipped."""
_NUMBER_AT_RISK = re.compile(rb"[0-9]{19}|[eE][-+]?[0-9]{3}|NaN|Infinity")
"""Only where this matches (anywhere, strings included) can a number be out of range: an
integer beyond 64 bits or a number of more than ``MAX_NUMBER_CHARS`` characters needs a run
of 19 digits, an infinite float an exponent of three digits, and the constants are spelled
out. Elsewhere the parser's own number reading is exact and the hooks are skipped."""


class InputRefused(Exception):
    """``code`` is the receipt's reason, ``rule`` the limit, ``field`` where (if known)."""

    def __init__(self, code: str, rule: str, message: str, field: str | None = None) -> None:
        super().__init__(message)
        self.code, self.rule, self.message, self.field = code, rule, message, field


def nesting_depth(raw: bytes) -> int:
    """The deepest nesting of arrays/objects in ``raw`` (strings skipped), without recursion."""
    if raw.count(b"[") + raw.count(b"{") <= MAX_DEPTH:
        return 0  # cannot be deeper than the limit: skip the scan
    depth = deepest = 0
    for bracket in _BRACKETS.findall(_STRINGS.sub(b"", raw)):
        if bracket in (b"[", b"{"):
            depth += 1
            deepest = max(deepest, depth)
        else:
            depth -= 1
    return deepest


def _unique_keys(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    doc = dict(pairs)
    if len(doc) != len(pairs):
        seen: set[str] = set()
        dup = next(k for k, _ in pairs if k in seen or seen.add(k))  # type: ignore[func-returns-value]
        raise InputRefused("duplicate_key", "unique_keys",
                           f"key '{dup[:60]}' appears twice in one object; send it once", dup[:60])
    return doc


class _OutOfRange:
    """A number read as text because it cannot be held; reported with its path by the walk."""

    def __init__(self, text: str, rule: str) -> None:
        self.text, self.rule = text, rule


class _Numbers:
    """The parser's number hooks for one message; ``seen`` tells whether any was marked."""

    def __init__(self) -> None:
        self.seen = False

    def integer(self, text: str) -> int | _OutOfRange:
        if len(text) > MAX_NUMBER_CHARS or abs(int(text)) > MAX_INT:
            return self._mark(text, "int64")
        return int(text)

    def number(self, text: str) -> float | _OutOfRange:
        value = float(text) if len(text) <= MAX_NUMBER_CHARS else float("inf")
        return self._mark(text, "finite") if value in (float("inf"), float("-inf")) else value

    def constant(self, text: str) -> _OutOfRange:
        return self._mark(text, "finite")  # NaN, Infinity: not JSON numbers

    def _mark(self, text: str, rule: str) -> _OutOfRange:
        self.seen = True
        return _OutOfRange(text, rule)


def decode(raw: bytes) -> Any:
    """The JSON value in ``raw`` (UTF-8), or ``InputRefused``; never another exception
    (``UnicodeDecodeError`` and ``json.JSONDecodeError`` are left to the caller's wording)."""
    text = raw.decode("utf-8")
    depth = nesting_depth(raw)
    if depth > MAX_DEPTH:
        raise InputRefused("too_deep", "max_depth",
                           f"arrays/objects nested {depth} deep; at most {MAX_DEPTH} are allowed")
    try:
        numbers = _Numbers()
        if _NUMBER_AT_RISK.search(raw) is None:  # every number fits: no hook per number
            doc = json.loads(text, object_pairs_hook=_unique_keys)
        else:
            doc = json.loads(text, object_pairs_hook=_unique_keys, parse_int=numbers.integer,
                             parse_float=numbers.number, parse_constant=numbers.constant)
    except (InputRefused, json.JSONDecodeError):
        raise
    except RecursionError as e:  # the scan above should have caught it; never escape
        raise InputRefused("too_deep", "max_depth", "arrays/objects nested too deep") from e
    except ValueError as e:
        raise InputRefused("number_out_of_range", "int64", f"a number cannot be read: {e}"[:200]) from e
    if numbers.seen or _ESCAPED_UNSTORABLE.search(raw):
        check_storable(doc)  # find the field (numbers out of range are marked, not raised)
    return doc


def check_storable(doc: Any) -> None:
    """Every key and string can be stored (no NUL, no lone surrogate); iterative walk."""
    stack: list[tuple[Any, str]] = [(doc, "")]
    while stack:
        value, path = stack.pop()
        if isinstance(value, str):
            _storable_text(value, path)
        elif isinstance(value, _OutOfRange):
            where = path or "the message"
            limit = "the signed 64-bit range" if value.rule == "int64" else "what can be stored"
            raise InputRefused("number_out_of_range", value.rule,
                               f"{where} is a number of {len(value.text)} characters, outside "
                               f"{limit}", path[:200] or None)
        elif isinstance(value, dict):
            for key, item in value.items():
                where = f"{path}.{key}" if path else str(key)
                _storable_text(key, where)
                stack.append((item, where))
        elif isinstance(value, list):
            stack.extend((item, f"{path}.{i}" if path else str(i)) for i, item in enumerate(value))


def _storable_text(text: str, path: str) -> None:
    found = _UNSTORABLE.search(text)
    if found is not None:
        char = f"U+{ord(found.group()):04X}"
        raise InputRefused("unstorable_character", "no_nul_or_surrogate",
                           f"{path or 'the message'} contains {char}, which cannot be stored; "
                           "remove it", path[:200] or None)


_NO_DATES = (str, int, float, UUID, Enum)
_DATED_FIELDS: dict[type[BaseModel], tuple[str, ...]] = {}


def _may_hold_dates(annotation: Any) -> bool:
    """False only for a type that surely holds no date (text, numbers, ids, literals)."""
    if annotation is None or annotation is type(None):
        return False
    if isinstance(annotation, type) and not get_args(annotation):
        return not issubclass(annotation, _NO_DATES) or issubclass(annotation, date)
    origin = get_origin(annotation)
    if origin is Literal:
        return False
    if origin is Annotated:
        return _may_hold_dates(get_args(annotation)[0])
    args = get_args(annotation)
    if origin in (Union, UnionType, list, tuple, set, frozenset) and args:
        return any(_may_hold_dates(a) for a in args if a is not Ellipsis)
    return True  # anything else: looked at


def _dated_fields(cls: type[BaseModel]) -> tuple[str, ...]:
    """The fields of ``cls`` worth walking, worked out once per model class."""
    names = _DATED_FIELDS.get(cls)
    if names is None:
        names = _DATED_FIELDS[cls] = tuple(
            name for name, info in cls.model_fields.items() if _may_hold_dates(info.annotation))
    return names


def check_dates(model: BaseModel) -> None:
    """Every date and time in a validated model lies within ``EARLIEST``..``LATEST``."""
    stack: list[tuple[Any, tuple[str, ...]]] = [(model, ())]
    while stack:
        value, path = stack.pop()
        if isinstance(value, BaseModel):
            fields = value.__dict__
            stack.extend((fields[name], (*path, name)) for name in _dated_fields(type(value)))
        elif isinstance(value, list | tuple):
            stack.extend((item, (*path, str(i))) for i, item in enumerate(value))
        elif isinstance(value, date):
            day = value.date() if isinstance(value, datetime) else value
            if not EARLIEST <= day <= LATEST:
                where = ".".join(path)
                raise InputRefused(
                    "date_out_of_range", "date_range",
                    f"{where} is {value.isoformat()}; dates must lie between "
                    f"{EARLIEST.isoformat()} and {LATEST.isoformat()}", where)
