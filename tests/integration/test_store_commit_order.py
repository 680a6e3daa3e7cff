"""Several processes write the PostgreSQL event store at once (ingest partitions, the API's
read records, the deadline watcher) while the relay tails it by position. Positions must
become visible in order: a tail that saw position n+1 before n would step over n for good
(an event never published). Writers here race in threads; a reader tails all the while and
must never find a hole that is later filled."""

from __future__ import annotations

import threading
import uuid

import pytest
from eventsourcing.persistence import StoredEvent

from services.settings import Settings
from services.store.care_app import create_care_app
from services.store.event_store_config import eventsourcing_env

WRITERS, BATCHES, BATCH = 4, 60, 20


@pytest.mark.parametrize("store_kind", ["postgres"])
def test_concurrent_writers_never_make_a_tail_step_over_a_position(
    base_settings: Settings,
) -> None:
    apps = [create_care_app(eventsourcing_env(base_settings)) for _ in range(WRITERS + 1)]
    reader, writers = apps[0], apps[1:]
    done = threading.Event()
    errors: list[BaseException] = []

    def write(app: object) -> None:
        try:
            for _ in range(BATCHES):
                app.recorder.insert_events([  # type: ignore[attr-defined]
                    StoredEvent(uuid.uuid4(), 1, "test:Event", b"{}") for _ in range(BATCH)])
        except BaseException as e:
            errors.append(e)

    threads = [threading.Thread(target=write, args=(app,)) for app in writers]
    for t in threads:
        t.start()
    seen: list[int] = []
    position = 0
    try:
        while True:
            finished = not any(t.is_alive() for t in threads)
            notes = reader.recorder.select_notifications(position, 500, inclusive_of_start=False)
            seen += [n.id for n in notes]
            if notes:
                position = notes[-1].id
            elif finished:
                break
    finally:
        done.set()
        for t in threads:
            t.join()
    everything = [n.id for n in reader.recorder.select_notifications(0, 100_000)]
    for app in apps:
        app.close()
    assert errors == []
    assert len(everything) == WRITERS * BATCHES * BATCH
    stepped_over = sorted(set(everything) - set(seen))
    assert stepped_over == [], f"the tail stepped over {len(stepped_over)} positions"
