"""Rebuild a projection from the event store into a fresh namespace, compare, switch over.

Reads the store (not JetStream) a page of notifications at a time and writes each page's
changed documents in one transaction, so memory stays flat however long the history. The
rebuilt namespace is compared document by document with the live one at the same store
position; ``switch`` flips the view's alias once both stand at exactly the same position,
while the projector keeps running (it simply continues in the new namespace).
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import structlog

from projections.view_namespaces import Namespaces, PostgresNamespaces, SQLiteNamespaces
from projections.view_store import ViewStore
from services.projector.consumer import Projection
from services.settings import Settings
from services.store.care_app import CareLoop
from services.store.event_records import PAGE, ClientResolver, notifications, record_of
from services.store.event_store_config import postgres_conninfo
from services.store.view_stores import view_seal

log = structlog.get_logger("careloop.rebuild")

Progress = Callable[[int, int], None]
"""(position reached, target position)."""


class NothingLive(Exception):
    """There is no live projection to compare with or switch from."""


@dataclass(frozen=True)
class RebuildResult:
    projection: str
    namespace: str
    position: int
    events: int
    seconds: float

    @property
    def events_per_second(self) -> float:
        return self.events / self.seconds if self.seconds > 0 else 0.0


@dataclass
class Comparison:
    live: str
    rebuilt: str
    compared: int = 0
    missing_in_rebuilt: list[str] = field(default_factory=list)
    missing_in_live: list[str] = field(default_factory=list)
    different: list[str] = field(default_factory=list)

    @property
    def identical(self) -> bool:
        return not (self.missing_in_rebuilt or self.missing_in_live or self.different)


def open_namespaces(settings: Settings) -> Namespaces:
    """The view store's namespaces (the same database as ``open_view_store``)."""
    if settings.store == "sqlite":
        return SQLiteNamespaces(settings.resolved_sqlite_path.with_name("careloop-views.sqlite3"),
                                view_seal(settings))
    return PostgresNamespaces(postgres_conninfo(settings), settings.postgres_schema,
                              view_seal(settings))


def new_namespace(view: str) -> str:
    return f"{view}@{datetime.now(UTC):%Y%m%dT%H%M%S}-{uuid.uuid4().hex[:4]}"


def rebuild(
    app: CareLoop, spaces: Namespaces, projection: Projection, *, upto: int | None = None,
    namespace: str | None = None, progress: Progress | None = None, page: int = PAGE,
) -> RebuildResult:
    """Fold the store into a fresh namespace up to ``upto`` (default: where the live
    projection stands, so the two can be compared; the store's head if there is none)."""
    namespace = namespace or new_namespace(projection.view)
    if upto is None:
        upto = spaces.live_position(projection.name) or app.head_position()
    started = time.perf_counter()
    events = catch_up(app, spaces, projection, namespace, upto, progress, page)
    result = RebuildResult(projection.name, namespace, spaces.position(namespace), events,
                           time.perf_counter() - started)
    log.info("projection_rebuilt", projection=projection.name, namespace=namespace,
             position=result.position, events=events, seconds=round(result.seconds, 3))
    return result


def catch_up(
    app: CareLoop, spaces: Namespaces, projection: Projection, namespace: str, upto: int,
    progress: Progress | None = None, page: int = PAGE,
) -> int:
    """Apply the store's events after the namespace's position up to ``upto``."""
    clients = ClientResolver(app)
    start = spaces.position(namespace)
    applied = 0
    if progress:
        progress(start, upto)
    for notes in notifications(app, start, upto, page=page):
        batch: list[dict[str, Any]] = []
        for note in notes:
            record = record_of(app, note, clients)
            if record is not None:
                batch.append(record)
        keyed = [(record, projection.keys_of(record)) for record in batch]
        docs = spaces.load_many(namespace, sorted({k for _, keys in keyed for k in keys}))
        for record, keys in keyed:
            for key in keys:
                docs[key] = projection.apply(docs.get(key), record, key)
        spaces.write_page(namespace, docs, notes[-1].id)
        applied += len(batch)
        if progress:
            progress(notes[-1].id, upto)
    return applied


def compare(spaces: Namespaces, live: str, rebuilt: str) -> Comparison:
    """Every document of both namespaces, side by side in key order (nothing ignored)."""
    result = Comparison(live, rebuilt)
    a, b = spaces.docs(live), spaces.docs(rebuilt)
    left, right = next(a, None), next(b, None)
    while left is not None or right is not None:
        if right is None or (left is not None and left[0] < right[0]):
            assert left is not None
            result.missing_in_rebuilt.append(left[0])
            left = next(a, None)
        elif left is None or right[0] < left[0]:
            result.missing_in_live.append(right[0])
            right = next(b, None)
        else:
            result.compared += 1
            if left[1] != right[1]:
                result.different.append(left[0])
            left, right = next(a, None), next(b, None)
    return result


def live_namespace(spaces: Namespaces, projection: Projection) -> str:
    return spaces.target(projection.view)


def switch(
    app: CareLoop, spaces: Namespaces, projection: Projection, namespace: str,
    attempts: int = 200, pause: float = 0.05,
) -> str:
    """Make ``namespace`` the live view without stopping anything; returns the old one.

    The rebuilt namespace is caught up to where the live projection stands, then the alias
    flips in one transaction that holds the projector's position lock, and only if both
    are still at exactly the same store position (otherwise: catch up again and retry).
    """
    previous = spaces.target(projection.view)
    for _ in range(attempts):
        live = spaces.live_position(projection.name)
        if live == 0:
            raise NothingLive(f"{projection.name} has no live position: nothing to switch from")
        ours = spaces.position(namespace)
        if ours < live:
            catch_up(app, spaces, projection, namespace, live)
        elif ours == live and spaces.switch(projection.view, namespace, projection.name):
            log.info("projection_switched", view=projection.view, namespace=namespace,
                     previous=previous, position=live)
            return previous
        time.sleep(pause)  # the live projector is mid-batch or behind us: let it move
    raise TimeoutError(f"could not catch {namespace} up with the live {projection.name}")



@dataclass
class DerivedComparison:
    """The views derived from a rebuilt namespace (per-role views, notes by author) against
    the live ones: they are pure functions of the full documents, so a rebuild of the full
    plan rebuilds them too."""

    compared: int = 0
    different: list[str] = field(default_factory=list)

    @property
    def identical(self) -> bool:
        return not self.different


def compare_derived(spaces: Namespaces, views: ViewStore, projection: Projection,
                    namespace: str) -> DerivedComparison:
    result = DerivedComparison()
    if projection.derive is None:
        return result
    for key, doc in spaces.docs(namespace):
        for view, derived_key, derived in projection.derive(key, doc).docs:
            result.compared += 1
            if views.get(view, derived_key) != derived:
                result.different.append(f"{view}/{derived_key}")
    return result
