"""The store ceiling: commands/s the event store takes when nothing else is in the way.

The same export the ingest measurement loads (the same commands, so the same events and
message-ledger entries) is turned into stored events by the real handlers beforehand, batch
by batch exactly as ingest batches them; then only the writes are timed: each batch through
``write_events``, ingest's own write (encoding, encryption, one transaction), one after
another, into a fresh schema. No NATS, no parsing, no receipts. Ingest can at best match this; ``ingest_vs_ceiling``
says how much of it ingest keeps. ``batch_path_cmds_per_s`` adds the time the command
handlers took to make those events (parsed messages in, no NATS): where ingest's time goes
between the two is parsing, receipts and acknowledgements.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from typing import Any

from contracts.v1.catalogue import MESSAGE_TYPES
from contracts.v1.envelope import Envelope
from services.commands import batch as batch_module
from services.settings import Settings
from services.store.care_app import CareLoop, Outcome, create_care_app
from services.store.copy_writer import write_events
from services.store.event_store_config import eventsourcing_env


def _batches(messages: Sequence[dict[str, Any]], size: int) -> list[list[Envelope]]:
    parsed = [MESSAGE_TYPES[m["message_type"]].model_validate(m) for m in messages]
    return [parsed[i:i + size] for i in range(0, len(parsed), size)]


def _captured_writes(app: CareLoop, batches: list[list[Envelope]]) -> list[list[Any]]:
    """What ingest's group commit would write for each batch, captured instead of written."""
    writes: list[list[Any]] = []

    def capture(_: CareLoop, events: Sequence[Any]) -> None:
        writes.append(list(events))

    real_write = batch_module.write_events
    batch_module.write_events = capture
    try:
        for batch in batches:
            results = batch_module.apply_batch(app, batch)
            bad = [r for r in results if not isinstance(r, Outcome)]
            if bad:
                raise RuntimeError(f"the ceiling's commands must all apply: {bad[0]!r}")
    finally:
        batch_module.write_events = real_write
    return writes


def measure(settings: Settings, messages: Sequence[dict[str, Any]]) -> dict[str, Any]:
    """Write ``messages``' events the way ingest does, timing only the writes."""
    app = create_care_app(eventsourcing_env(settings))
    try:
        batches = _batches(messages, settings.ingest_batch_size)
        started = time.perf_counter()
        writes = _captured_writes(app, batches)
        handlers = time.perf_counter() - started
        events = sum(len(w) for w in writes)
        started = time.perf_counter()
        for write in writes:
            write_events(app, write)
        elapsed = time.perf_counter() - started
    finally:
        app.close()
    return {"commands": len(messages), "stored_events": events, "transactions": len(writes),
            "seconds": round(elapsed, 3), "cmds_per_s": round(len(messages) / elapsed, 1),
            "events_per_s": round(events / elapsed, 1),
            "handlers_seconds": round(handlers, 3),
            "batch_path_cmds_per_s": round(len(messages) / (handlers + elapsed), 1),
            "path": "services.store.copy_writer.write_events per ingest batch (encode, "
                    "encrypt, one transaction)"}
