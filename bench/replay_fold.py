"""Item 4: a full rebuild of the care-plan view from the event store, and its memory.

``fold_care_plan_views`` is the rebuild being measured: stored events read in pages, in
store order, through the outbound translation (the same one the relay uses) into
``projections.care_plan.apply``, one view-store transaction per page. When the projection
rebuild service lands, point ``fold_care_plan_views`` at it.

Each fold runs in a fresh process (``python -m bench.replay_fold <schema>``), so its peak RSS
is the rebuild's own and not the generator's.
"""

from __future__ import annotations

import json
import resource
import sys
import time
import uuid
from pathlib import Path
from typing import Any

from bench.traffic import client_story
from contracts.v1.catalogue import MESSAGE_TYPES
from contracts.v1.envelope import Envelope
from projections import care_plan
from projections.view_store import SQLiteViewStore, ViewStore
from projections.view_store_postgres import PostgresViewStore
from services.commands.batch import apply_batch
from services.settings import Settings
from services.store.care_app import CareLoop, Outcome, create_care_app
from services.store.event_records import ClientResolver, notifications, record_of
from services.store.event_store_config import eventsourcing_env, postgres_conninfo

PAGE = 1000
PROJECTION = "care_plan_rebuild"


def fold_care_plan_views(app: CareLoop, views: ViewStore, page: int = PAGE) -> dict[str, int]:
    """Rebuild the care-plan view from the whole store; returns what it read and applied.
    Stored events become public dicts the way every replay does (``record_of``)."""
    clients = ClientResolver(app)
    read = applied = 0
    for notes in notifications(app, page=page):
        items = []
        for note in notes:
            record = record_of(app, note, clients)
            if record is not None:
                items.append((note.id, record))
        if items:
            views.apply_batch(PROJECTION, care_plan.VIEW, items, care_plan.apply,
                              care_plan.keys_of)
        read += len(notes)
        applied += len(items)
    return {"read": read, "applied": applied}


def read_raw(app: CareLoop, page: int = PAGE) -> int:
    """The notification log read in the rebuild's pages, nothing decoded: the replay ceiling."""
    position = read = 0
    while True:
        notes = app.recorder.select_notifications(position, page, inclusive_of_start=False)
        if not notes:
            return read
        read += len(notes)
        position = notes[-1].id


def _template() -> list[Envelope]:
    return [MESSAGE_TYPES[m["message_type"]].model_validate(m) for m in client_story()]


def generate(settings: Settings, events: int, batch_commands: int = 2000) -> int:
    """Store about ``events`` events (half message-ledger entries, as in production),
    through the batched write path: many aggregates per transaction."""
    app = create_care_app(eventsourcing_env(settings))
    template = _template()
    stored = 0
    try:
        while stored < events:
            batch: list[Envelope] = []
            while len(batch) < batch_commands:
                cid, rid = uuid.uuid4(), uuid.uuid4()
                for m in template:
                    payload: Any = m.payload
                    update = {k: v for k, v in (("client_id", cid), ("referral_id", rid))
                              if hasattr(payload, k)}
                    batch.append(m.model_copy(update={
                        "message_id": f"replay-{uuid.uuid4()}",
                        "payload": payload.model_copy(update=update)}))
            results = apply_batch(app, batch)
            stored += sum(1 + len(r.event_ids) for r in results if isinstance(r, Outcome))
    finally:
        app.close()
    return stored


def _fold_in_this_process(settings: Settings, views_at: str) -> dict[str, Any]:
    """``views_at``: a PostgreSQL schema, or a SQLite file when the store is SQLite."""
    app = create_care_app(eventsourcing_env(settings))
    views: ViewStore = (SQLiteViewStore(Path(views_at)) if settings.store == "sqlite"
                        else PostgresViewStore(postgres_conninfo(settings), views_at))
    try:
        start = time.perf_counter()
        raw = read_raw(app)
        raw_seconds = time.perf_counter() - start
        start = time.perf_counter()
        counts = fold_care_plan_views(app, views)
        elapsed = time.perf_counter() - start
        start = time.perf_counter()  # again, now that the rows are as warm as the fold had them
        raw_seconds = min(raw_seconds, (read_raw(app), time.perf_counter() - start)[1])
    finally:
        views.close()
        app.close()
    peak_kb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return {**counts, "seconds": round(elapsed, 2),
            "events_per_s": round(counts["read"] / elapsed, 1),
            "published_events_per_s": round(counts["applied"] / elapsed, 1),
            "peak_rss_mb": round(peak_kb / 1024, 1),
            "raw_read_seconds": round(raw_seconds, 2),
            "raw_read_events_per_s": round(raw / raw_seconds, 1),
            "replay_vs_raw": round(counts["read"] / elapsed / (raw / raw_seconds), 3)}


if __name__ == "__main__":
    from bench.environment import BENCH_CIPHER_KEY, PG
    from services.cli.structured_logging import configure_logging

    configure_logging("json", "WARNING")
    if sys.argv[1] == "sqlite":  # sqlite <store file> <views file>
        fold_settings = Settings(_env_file=None, store="sqlite",  # type: ignore[call-arg]
                                 sqlite_path=Path(sys.argv[2]), cipher_key=BENCH_CIPHER_KEY)
        print(json.dumps(_fold_in_this_process(fold_settings, sys.argv[3])))
    else:  # <store schema> <views schema>
        fold_settings = Settings(_env_file=None, store="postgres",  # type: ignore[call-arg]
                                 postgres_schema=sys.argv[1], cipher_key=BENCH_CIPHER_KEY, **PG)
        print(json.dumps(_fold_in_this_process(fold_settings, sys.argv[2])))
