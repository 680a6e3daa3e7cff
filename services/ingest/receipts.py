"""Builds the receipt every inbound message gets (accepted or rejected, never silence)."""

from __future__ import annotations

from datetime import UTC, datetime

from contracts.v1.envelope import Envelope
from contracts.v1.parsing import Rejection
from contracts.v1.receipts import Problem, Receipt
from domain.errors import DomainError
from services.store.care_app import Outcome


def _now() -> datetime:
    return datetime.now(UTC)


def accepted(message: Envelope, outcome: Outcome, sequence: int | None) -> Receipt:
    n = len(outcome.event_ids)
    summary = (
        f"{message.message_type} {message.message_id} was already processed; "
        "nothing new was stored"
        if outcome.duplicate
        else f"{message.message_type} accepted: {n} event{'s' if n != 1 else ''} stored"
    )
    return Receipt(
        status="accepted", source_system=message.source_system, message_id=message.message_id,
        message_type=message.message_type, correlation_id=message.correlation_id,
        duplicate=outcome.duplicate, event_ids=outcome.event_ids, summary=summary,
        inbound_sequence=sequence, processed_at=_now(),
    )


def rejected_input(
    rejection: Rejection, source_system: str, message_type: str, sequence: int | None
) -> Receipt:
    known = rejection.known
    return Receipt(
        status="rejected", source_system=source_system, message_id=known.get("message_id"),
        message_type=message_type or known.get("message_type"),
        correlation_id=known.get("correlation_id"), reason=rejection.code,
        problems=rejection.problems,
        summary=f"rejected ({rejection.code}): {rejection}", inbound_sequence=sequence,
        processed_at=_now(),
    )


def rejected_by_rule(message: Envelope, error: DomainError, sequence: int | None) -> Receipt:
    return _rejected(message, error.code, str(error), error.field, sequence,
                     rule=error.rule or error.code)


def failed(message: Envelope | None, source_system: str, message_type: str,
           sequence: int | None, deliveries: int) -> Receipt:
    """Processing kept failing for a reason that is ours, not the sender's."""
    text = (
        f"careloop could not process this message after {deliveries} attempts; it is kept "
        "in the dead-letter stream for the operators and nothing was stored (careloop's "
        "ledger has no entry for it). Do not resend; you will be contacted."
    )
    if message is not None:
        return _rejected(message, "internal_error", text, None, sequence)
    return Receipt(
        status="rejected", source_system=source_system, message_id=None,
        message_type=message_type, correlation_id=None, reason="internal_error",
        problems=[Problem(code="internal_error", rule="processing", message=text)],
        summary=text, inbound_sequence=sequence, processed_at=_now(),
    )


def _rejected(message: Envelope, code: str, text: str, field: str | None,
              sequence: int | None, rule: str | None = None) -> Receipt:
    return Receipt(
        status="rejected", source_system=message.source_system, message_id=message.message_id,
        message_type=message.message_type, correlation_id=message.correlation_id, reason=code,
        problems=[Problem(code=code, field=field, rule=rule or code, message=text)],
        summary=f"rejected ({code}): {text}", inbound_sequence=sequence, processed_at=_now(),
    )


COMPACT_SUMMARY = 200


def compact(receipt: Receipt) -> Receipt:
    """The same answer without its details, for when the full receipt cannot be published."""
    return receipt.model_copy(update={
        "problems": [], "summary": receipt.summary[:COMPACT_SUMMARY],
        "event_ids": receipt.event_ids[:100],
    })
