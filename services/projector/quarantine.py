"""Events a view could not take, set aside with the reason so the views go on.

One row per (projection, events-stream sequence), in the view store's database: the event's
store position and type, the error's type and message (clipped), and when. The event
itself stays in the event store and on the events stream: after a fix, a rebuild of the
view takes it. ``/health`` reports recent entries; the projector logs each as an alert.
"""

from __future__ import annotations

import sqlite3
import threading
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Protocol

from projections.postgres_ddl import create_all
from projections.view_store import ViewStore
from projections.view_store_postgres import PostgresViewStore
from services.settings import Settings

TABLE = "projection_quarantine"
COLUMNS = "projection, stream_seq, store_position, event_type, error, reason, quarantined_at"


@dataclass(frozen=True)
class Quarantined:
    projection: str
    stream_seq: int
    store_position: int
    event_type: str
    error: str
    reason: str
    quarantined_at: str


class Quarantine(Protocol):
    def add(self, entry: Quarantined) -> None: ...
    def since(self, moment: datetime, limit: int = 20) -> tuple[int, list[Quarantined]]: ...
    def close(self) -> None: ...


def entry(projection: str, seq: int, event: dict[str, Any], error: BaseException) -> Quarantined:
    return Quarantined(projection, seq, int(event.get("position") or 0),
                       str(event.get("event_type", "?"))[:100], type(error).__name__,
                       str(error)[:500], datetime.now(UTC).isoformat(timespec="seconds"))


class SQLiteQuarantine:
    def __init__(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        self._conn = sqlite3.connect(str(path), check_same_thread=False, isolation_level=None)
        self._conn.execute("PRAGMA busy_timeout=10000")
        self._lock = threading.Lock()
        with self._lock:
            self._conn.execute(
                f"CREATE TABLE IF NOT EXISTS {TABLE} (projection TEXT NOT NULL, stream_seq INTEGER"
                " NOT NULL, store_position INTEGER NOT NULL, event_type TEXT NOT NULL, error TEXT"
                " NOT NULL, reason TEXT NOT NULL, quarantined_at TEXT NOT NULL,"
                " PRIMARY KEY (projection, stream_seq))")

    def add(self, e: Quarantined) -> None:
        with self._lock:
            self._conn.execute(f"INSERT OR REPLACE INTO {TABLE} ({COLUMNS}) VALUES (?,?,?,?,?,?,?)",
                               (e.projection, e.stream_seq, e.store_position, e.event_type,
                                e.error, e.reason, e.quarantined_at))

    def since(self, moment: datetime, limit: int = 20) -> tuple[int, list[Quarantined]]:
        at = moment.isoformat(timespec="seconds")
        with self._lock:
            count = self._conn.execute(f"SELECT count(*) FROM {TABLE} WHERE quarantined_at >= ?",
                                       (at,)).fetchone()[0]
            rows = self._conn.execute(
                f"SELECT {COLUMNS} FROM {TABLE} WHERE quarantined_at >= ? "
                "ORDER BY quarantined_at DESC LIMIT ?", (at, limit)).fetchall()
        return int(count), [Quarantined(*r) for r in rows]

    def close(self) -> None:
        with self._lock:
            self._conn.close()


class PostgresQuarantine:
    """In the view store's schema, through its connection pool (no connection of its own)."""

    def __init__(self, pool: Any) -> None:
        self._pool = pool
        with self._pool.connection() as conn:  # the API and the projector may start at once
            create_all(conn, [
                f"CREATE TABLE IF NOT EXISTS {TABLE} (projection TEXT NOT NULL, stream_seq BIGINT"
                " NOT NULL, store_position BIGINT NOT NULL, event_type TEXT NOT NULL, error TEXT"
                " NOT NULL, reason TEXT NOT NULL, quarantined_at TEXT NOT NULL,"
                " PRIMARY KEY (projection, stream_seq))".encode()])

    def add(self, e: Quarantined) -> None:
        with self._pool.connection() as conn:
            conn.execute(
                f"INSERT INTO {TABLE} ({COLUMNS}) VALUES (%s,%s,%s,%s,%s,%s,%s) ON CONFLICT "
                "(projection, stream_seq) DO UPDATE SET reason=excluded.reason".encode(),
                (e.projection, e.stream_seq, e.store_position, e.event_type, e.error,
                 e.reason.replace("\x00", "\\u0000"), e.quarantined_at))

    def since(self, moment: datetime, limit: int = 20) -> tuple[int, list[Quarantined]]:
        at = moment.isoformat(timespec="seconds")
        with self._pool.connection() as conn:
            row = conn.execute(
                f"SELECT count(*) FROM {TABLE} WHERE quarantined_at >= %s".encode(),
                (at,)).fetchone()
            rows = conn.execute(
                f"SELECT {COLUMNS} FROM {TABLE} WHERE quarantined_at >= %s "
                "ORDER BY quarantined_at DESC LIMIT %s".encode(), (at, limit)).fetchall()
        return int(row[0] if row else 0), [Quarantined(*r) for r in rows]

    def close(self) -> None:
        pass  # the pool is the view store's


def open_quarantine(settings: Settings, views: ViewStore) -> Quarantine:
    if isinstance(views, PostgresViewStore):
        return PostgresQuarantine(views.pool)
    return SQLiteQuarantine(settings.resolved_sqlite_path.with_name("careloop-views.sqlite3"))
