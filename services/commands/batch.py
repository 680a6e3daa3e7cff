"""Applies a batch of validated messages with one commit (group commit), exactly per message.

Each message runs its command handler, in order, on aggregates shared through the app's
identity map, so a referral made and accepted in one batch is one object with two new
events. Everything the batch caused (ledger entries first, then the domain events in message
order) is saved in one ``app.save``: one transaction, one table lock on PostgreSQL.

Exactness per message, as if each had its own transaction:
- a domain refusal raises before the aggregate records anything, so it just leaves that
  message out; if a refused command did leave events on a shared object, the batch is
  redone one message per transaction;
- a message_id repeated inside the batch gets the first one's outcome, marked duplicate;
- a refused message whose message_id is in the ledger is a redelivery: same receipt;
- a duplicate the domain does not refuse, or a concurrent writer, fails the batch's save
  (unique ledger id, aggregate version): the batch is redone one message per transaction;
- database or NATS trouble fails every message of the batch as transient (retried later);
  any other error is retried one message per transaction, so only the poison one fails;
  one by one, a transient failure stops the round (the tail waits, in order).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import structlog
from eventsourcing.domain import Aggregate
from eventsourcing.persistence import IntegrityError, InterfaceError, OperationalError

from contracts.v1.envelope import Envelope
from contracts.v1.events import event_id
from domain.errors import DomainError
from services.commands.registry import HANDLERS, execute, provenance_of
from services.message_ledger import ProcessedMessage, ledger_id
from services.store.aggregate_preload import ids_named_by, preload
from services.store.care_app import CareLoop, ConcurrentChange, Outcome
from services.store.copy_writer import write_events

log = structlog.get_logger("careloop.batch")

Result = Outcome | DomainError | Exception
"""Per message: what was stored, the rule it broke, or the error that stopped it."""

TRANSIENT_STORE = (InterfaceError, OperationalError, OSError, ConnectionError, TimeoutError)
"""The database is away or busy. Other database errors (data it cannot hold, say) are a
message's own: they go one by one like any poison."""


class RefusalTouchedAggregate(Exception):
    """A refused command left events on an object shared with the rest of the batch."""


def apply_batch(app: CareLoop, messages: Sequence[Envelope]) -> list[Result]:
    """One result per message, in order; one transaction when all goes well."""
    if not messages:
        return []
    try:
        return _group_commit(app, messages)
    except (IntegrityError, ConcurrentChange, RefusalTouchedAggregate) as e:
        log.info("batch_one_by_one", size=len(messages), cause=type(e).__name__)
    except TRANSIENT_STORE as e:
        return [e] * len(messages)
    except Exception as e:  # a poison message: find it by going one by one
        log.warning("batch_one_by_one", size=len(messages), cause=type(e).__name__)
    return _one_by_one(app, messages)


def _one_by_one(app: CareLoop, messages: Sequence[Envelope]) -> list[Result]:
    """Each message in its own transaction. After a transient failure the rest are not
    tried (they share its fate), so what is retried is always the batch's tail: a client's
    later message is never applied before an earlier one that is waiting."""
    results: list[Result] = []
    for i, message in enumerate(messages):
        result = apply_one(app, message)
        results.append(result)
        if isinstance(result, (*TRANSIENT_STORE, ConcurrentChange)):
            return results + [result] * (len(messages) - i - 1)
    return results


def apply_one(app: CareLoop, message: Envelope) -> Result:
    """The message in its own transaction (the baseline path, and the fallback)."""
    try:
        return execute(app, message)
    except DomainError as error:
        return error
    except Exception as error:
        return error


def _group_commit(app: CareLoop, messages: Sequence[Envelope]) -> list[Result]:
    results: list[Result | None] = [None] * len(messages)
    first_of: dict[Any, int] = {}
    entries: list[ProcessedMessage] = []
    events: list[Any] = []
    with app.identity_map() as loaded:
        preload(app, ids_named_by(messages), loaded)
        for i, message in enumerate(messages):
            key = ledger_id(message.source_system, message.message_id)
            if key in first_of:
                continue
            first_of[key] = i
            provenance = provenance_of(message)
            try:
                changed = HANDLERS[message.message_type](app, message, provenance)
            except DomainError as error:
                if any(a is not None and a.pending_events for a in loaded.values()):
                    raise RefusalTouchedAggregate(message.message_id) from error
                results[i] = error
                continue
            new_events = _collect(changed, loaded)
            ids = [event_id(e.originator_id, e.originator_version) for e in new_events]
            entries.append(ProcessedMessage(
                id=key, source_system=message.source_system, message_id=message.message_id,
                message_type=message.message_type, correlation_id=message.correlation_id,
                event_ids=ids,
            ))
            events.extend(new_events)
            results[i] = Outcome(ids, duplicate=False)
        for i, result in enumerate(results):
            if isinstance(result, DomainError):
                prior = app.processed(messages[i].source_system, messages[i].message_id)
                if prior is not None:  # a redelivery of a message committed before
                    results[i] = Outcome(list(prior.event_ids), duplicate=True)
    if entries:
        # Ledger entries first: the transaction then ends on a domain event, so the store's
        # head is always a published position (projection lag can reach exactly zero).
        # Straight to the event store: ``app.save`` would re-check every object against the
        # library's runtime protocols, which costs more than the insert itself; on
        # PostgreSQL one binary COPY (``copy_writer``).
        write_events(app, [e for entry in entries for e in entry.collect_events()] + events)
    for i, message in enumerate(messages):
        if results[i] is None:  # a repeat inside this batch: the first one's answer
            first = results[first_of[ledger_id(message.source_system, message.message_id)]]
            results[i] = (
                Outcome(first.event_ids, duplicate=True) if isinstance(first, Outcome) else first
            )
    return [r for r in results if r is not None]


def _collect(changed: Sequence[Aggregate], loaded: dict[Any, Aggregate | None]) -> list[Any]:
    """Take the message's new events off its aggregates, keeping the objects for the next."""
    new_events: list[Any] = []
    for aggregate in changed:
        new_events.extend(aggregate.collect_events())
        loaded[aggregate.id] = aggregate
    return new_events
