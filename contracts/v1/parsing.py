"""Turns raw bytes from a subject into a typed message, or into precise problems.

Every refusal names the field and the rule, so the sender can fix the message without
calling anyone.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from pydantic import ValidationError

from contracts.v1.catalogue import MESSAGE_TYPES
from contracts.v1.envelope import SCHEMA_VERSION, Envelope
from contracts.v1.fhir_messages import FHIR_MESSAGE_TYPES
from contracts.v1.input_limits import InputRefused, check_dates, decode
from contracts.v1.receipts import Problem

MAX_MESSAGE_BYTES = 256 * 1024
MAX_PROBLEMS = 20
"""Problems listed per rejection; the rest are counted. A 100 KB list of bad values has tens
of thousands of errors, and a receipt listing them all would outgrow NATS's 1 MB payload
limit, so the sender would hear nothing at all."""
MAX_TEXT = 300
"""Longest field path or message quoted back (a field name can be as long as the message)."""
MAX_FUTURE_SKEW = timedelta(minutes=10)
"""A fact cannot have happened later than now: ``occurred_at`` further ahead of careloop's
clock than this is refused (``clock_skew``) instead of being stored with an impossible time.
Ten minutes absorbs ordinary clock drift between partner systems and careloop."""


@dataclass
class Rejection(Exception):
    """The message cannot be processed as sent; ``problems`` say exactly why."""

    code: str
    problems: list[Problem]
    known: dict[str, Any] = field(default_factory=dict)
    """Envelope fields we could still read (message_id, correlation_id), for the receipt."""

    def __str__(self) -> str:
        return "; ".join(p.message for p in self.problems)


def _clip(text: str) -> str:
    return text if len(text) <= MAX_TEXT else text[: MAX_TEXT - 1] + "…"


def _problem(code: str, rule: str, message: str, fld: str | None = None) -> Problem:
    return Problem(code=code, field=None if fld is None else _clip(fld), rule=rule,
                   message=_clip(message))


def _readable(doc: dict[str, Any]) -> dict[str, Any]:
    keys = ("message_id", "correlation_id", "message_type")
    return {k: doc[k] for k in keys if isinstance(doc.get(k), str) and len(doc[k]) <= 128}


def parse_message(
    raw: bytes, source_system: str, message_type: str, now: datetime | None = None
) -> Envelope:
    """Validate ``raw`` sent on ``careloop.in.<source_system>.<message_type>``.

    ``now`` is careloop's clock (the current time unless a test fixes it)."""
    if len(raw) > MAX_MESSAGE_BYTES:
        msg = f"message is {len(raw)} bytes; the limit is {MAX_MESSAGE_BYTES}"
        raise Rejection("too_large", [_problem("too_large", "max_bytes", msg)])
    try:
        doc = decode(raw)
    except InputRefused as e:
        raise Rejection(e.code, [_problem(e.code, e.rule, e.message, e.field)]) from e
    except UnicodeDecodeError as e:
        msg = f"message is not UTF-8 encoded (byte {e.start})"
        raise Rejection("invalid_encoding", [_problem("invalid_encoding", "utf-8", msg)]) from e
    except json.JSONDecodeError as e:
        msg = f"message is not valid JSON: {e.msg} at line {e.lineno} column {e.colno}"
        raise Rejection("invalid_json", [_problem("invalid_json", "json", msg)]) from e
    except RecursionError as e:  # Python's parser gives up on very deep nesting
        msg = "message nests arrays or objects too deeply to be read"
        raise Rejection("invalid_json", [_problem("invalid_json", "max_depth", msg)]) from e
    if not isinstance(doc, dict):
        msg = "message must be a JSON object (the envelope), not " + type(doc).__name__
        raise Rejection("invalid_json", [_problem("invalid_json", "object", msg)])
    known = _readable(doc)

    model = MESSAGE_TYPES.get(message_type) or FHIR_MESSAGE_TYPES.get(message_type)
    if model is None:
        msg = _listing(f"unknown message type '{_clip(message_type)[:80]}' in the subject; "
                       "known types: ", sorted([*MESSAGE_TYPES, *FHIR_MESSAGE_TYPES]))
        raise Rejection("unknown_message_type", [_problem("unknown_message_type", "catalogue", msg)], known)
    if doc.get("message_type") != message_type:
        msg = f"message_type '{doc.get('message_type')}' does not match the subject's '{message_type}'"
        raise Rejection(
            "subject_mismatch", [_problem("subject_mismatch", "equals_subject", msg, "message_type")], known
        )
    if doc.get("source_system") != source_system:
        msg = f"source_system '{doc.get('source_system')}' does not match the subject's '{source_system}'"
        raise Rejection(
            "subject_mismatch", [_problem("subject_mismatch", "equals_subject", msg, "source_system")], known
        )
    version = doc.get("schema_version")
    if isinstance(version, int) and not isinstance(version, bool) and version > SCHEMA_VERSION:
        msg = f"schema_version {version} is newer than this careloop understands ({SCHEMA_VERSION})"
        raise Rejection(
            "unsupported_version",
            [_problem("unsupported_version", "max_version", msg, "schema_version")],
            known,
        )
    try:
        message = model.model_validate(doc)
    except ValidationError as e:
        raise Rejection("schema_violation", _validation_problems(e), known) from e
    try:
        check_dates(message)
    except InputRefused as e:
        raise Rejection(e.code, [_problem(e.code, e.rule, e.message, e.field)], known) from e
    _check_clock(message, now or datetime.now(UTC), known)
    return message


def _listing(intro: str, names: list[str]) -> str:
    """``intro`` and as many whole names as fit in a problem's message, then how many more."""
    shown: list[str] = []
    for i, name in enumerate(names):
        rest = len(names) - i - 1
        tail = f" and {rest} more (see the message catalogue)" if rest else ""
        if len(intro) + len(", ".join([*shown, name])) + len(tail) > MAX_TEXT - 50:
            return intro + ", ".join(shown) + f" and {len(names) - i} more (see the message catalogue)"
        shown.append(name)
    return intro + ", ".join(shown)


def _check_clock(message: Envelope, now: datetime, known: dict[str, Any]) -> None:
    ahead = message.occurred_at - now
    if ahead > MAX_FUTURE_SKEW:
        minutes = int(ahead.total_seconds() // 60)
        msg = (
            f"occurred_at {message.occurred_at.isoformat()} is {minutes} minutes ahead of "
            f"careloop's clock ({now.isoformat(timespec='seconds')}); at most "
            f"{int(MAX_FUTURE_SKEW.total_seconds() // 60)} are allowed: check the sender's clock"
        )
        raise Rejection(
            "clock_skew", [_problem("clock_skew", "max_future_skew", msg, "occurred_at")], known
        )


def _validation_problems(error: ValidationError) -> list[Problem]:
    problems = []
    errors = error.errors(include_url=False, include_input=False, include_context=False)
    for err in errors[:MAX_PROBLEMS]:
        where = ".".join(str(part) for part in err["loc"]) or None
        text = f"{where}: {err['msg']}" if where else err["msg"]
        problems.append(_problem("schema_violation", err["type"], text, where))
    if len(errors) > MAX_PROBLEMS:
        more = len(errors) - MAX_PROBLEMS
        problems.append(_problem(
            "schema_violation", "more_problems",
            f"and {more} more problems of the same message; fix those above and resend"))
    return problems
