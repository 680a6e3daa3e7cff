"""Where views live: JSON documents keyed by (view, key), plus each projection's position.

A batch of events and the new position are written in one transaction, so a crash or a
redelivery applies every event exactly once. SQLite for embedded mode, PostgreSQL in
production; both satisfy the same contract tests.
"""

from __future__ import annotations

import json
import sqlite3
import threading
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

Doc = dict[str, Any]
Apply = Callable[[Doc | None, Doc, str], Doc]
"""(current document or None, event, document key) → new document."""
KeysOf = Callable[[Doc], list[str]]
"""The documents of a view an event touches (a conference event may touch several)."""


@dataclass(frozen=True)
class Position:
    stream_seq: int = 0
    """Last applied sequence of the events stream."""
    store_position: int = 0
    """Store position (notification id) of the last applied event, for lag."""


class ViewStore(Protocol):
    def position(self, projection: str) -> Position: ...
    def get(self, view: str, key: str) -> Doc | None: ...
    def scan(self, view: str) -> list[Doc]: ...
    def apply_batch(
        self, projection: str, view: str, events: Iterable[tuple[int, Doc]], apply: Apply,
        keys_of: KeysOf,
    ) -> Position: ...
    def close(self) -> None: ...


def _fold(
    current: Position, events: Iterable[tuple[int, Doc]], load: Callable[[str], Doc | None],
    apply: Apply, keys_of: KeysOf,
) -> tuple[dict[str, Doc], Position]:
    """Apply the events newer than ``current``; returns the changed documents and position."""
    changed: dict[str, Doc] = {}
    pos = current
    for seq, event in events:
        if seq <= pos.stream_seq:
            continue  # redelivered: already in the view
        for key in keys_of(event):
            doc = changed[key] if key in changed else load(key)
            changed[key] = apply(doc, event, key)
        pos = Position(seq, int(event.get("position", pos.store_position)))
    return changed, pos


class SQLiteViewStore:
    def __init__(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        self._conn = sqlite3.connect(str(path), check_same_thread=False, isolation_level=None)
        self._conn.execute("PRAGMA journal_mode=WAL")
        self._conn.execute("PRAGMA busy_timeout=10000")
        self._lock = threading.Lock()
        with self._lock:
            self._conn.executescript(
                "CREATE TABLE IF NOT EXISTS view_documents ("
                " view TEXT NOT NULL, key TEXT NOT NULL, doc TEXT NOT NULL,"
                " PRIMARY KEY (view, key));"
                "CREATE TABLE IF NOT EXISTS projection_positions ("
                " projection TEXT PRIMARY KEY, stream_seq INTEGER NOT NULL,"
                " store_position INTEGER NOT NULL);"
            )

    def position(self, projection: str) -> Position:
        with self._lock:
            row = self._conn.execute(
                "SELECT stream_seq, store_position FROM projection_positions WHERE projection=?",
                (projection,),
            ).fetchone()
        return Position(*row) if row else Position()

    def get(self, view: str, key: str) -> Doc | None:
        with self._lock:
            row = self._conn.execute(
                "SELECT doc FROM view_documents WHERE view=? AND key=?", (view, key)
            ).fetchone()
        return json.loads(row[0]) if row else None

    def scan(self, view: str) -> list[Doc]:
        with self._lock:
            rows = self._conn.execute("SELECT doc FROM view_documents WHERE view=?",
                                      (view,)).fetchall()
        return [json.loads(r[0]) for r in rows]

    def apply_batch(
        self, projection: str, view: str, events: Iterable[tuple[int, Doc]], apply: Apply,
        keys_of: KeysOf,
    ) -> Position:
        with self._lock:
            c = self._conn
            c.execute("BEGIN IMMEDIATE")
            try:
                row = c.execute(
                    "SELECT stream_seq, store_position FROM projection_positions WHERE projection=?",
                    (projection,),
                ).fetchone()
                current = Position(*row) if row else Position()

                def load(key: str) -> Doc | None:
                    r = c.execute(
                        "SELECT doc FROM view_documents WHERE view=? AND key=?", (view, key)
                    ).fetchone()
                    return json.loads(r[0]) if r else None

                changed, pos = _fold(current, events, load, apply, keys_of)
                c.executemany(
                    "INSERT INTO view_documents(view, key, doc) VALUES (?,?,?) "
                    "ON CONFLICT(view, key) DO UPDATE SET doc=excluded.doc",
                    [(view, k, json.dumps(d)) for k, d in changed.items()],
                )
                c.execute(
                    "INSERT INTO projection_positions(projection, stream_seq, store_position) "
                    "VALUES (?,?,?) ON CONFLICT(projection) DO UPDATE SET "
                    "stream_seq=excluded.stream_seq, store_position=excluded.store_position",
                    (projection, pos.stream_seq, pos.store_position),
                )
                c.execute("COMMIT")
            except BaseException:
                c.execute("ROLLBACK")
                raise
        return pos

    def close(self) -> None:
        with self._lock:
            self._conn.close()


class PostgresViewStore:
    def __init__(self, conninfo: str, schema: str, pool_size: int = 4) -> None:
        from psycopg import sql
        from psycopg_pool import ConnectionPool

        self._sql = sql
        self._schema = schema
        self._pool = ConnectionPool(
            conninfo, min_size=1, max_size=pool_size, open=True,
            # Autocommit: a read is one round trip (no COMMIT after it); apply_batch opens its
            # own transaction explicitly.
            kwargs={"autocommit": True, "options": f"-c search_path={schema}"},
        )
        with self._pool.connection() as conn:
            conn.execute(
                sql.SQL("CREATE SCHEMA IF NOT EXISTS {}").format(sql.Identifier(schema))
            )
            conn.execute(
                "CREATE TABLE IF NOT EXISTS view_documents ("
                " view TEXT NOT NULL, key TEXT NOT NULL, doc JSONB NOT NULL,"
                " PRIMARY KEY (view, key))"
            )
            conn.execute(
                "CREATE TABLE IF NOT EXISTS projection_positions ("
                " projection TEXT PRIMARY KEY, stream_seq BIGINT NOT NULL,"
                " store_position BIGINT NOT NULL)"
            )

    def position(self, projection: str) -> Position:
        with self._pool.connection() as conn:
            row = conn.execute(
                "SELECT stream_seq, store_position FROM projection_positions WHERE projection=%s",
                (projection,),
            ).fetchone()
        return Position(*row) if row else Position()

    def get(self, view: str, key: str) -> Doc | None:
        with self._pool.connection() as conn:
            row = conn.execute(
                "SELECT doc FROM view_documents WHERE view=%s AND key=%s", (view, key)
            ).fetchone()
        return row[0] if row else None

    def scan(self, view: str) -> list[Doc]:
        with self._pool.connection() as conn:
            rows = conn.execute("SELECT doc FROM view_documents WHERE view=%s",
                                (view,)).fetchall()
        return [r[0] for r in rows]

    def apply_batch(
        self, projection: str, view: str, events: Iterable[tuple[int, Doc]], apply: Apply,
        keys_of: KeysOf,
    ) -> Position:
        from psycopg.types.json import Jsonb

        with self._pool.connection() as conn, conn.transaction():
            row = conn.execute(
                "SELECT stream_seq, store_position FROM projection_positions "
                "WHERE projection=%s FOR UPDATE",
                (projection,),
            ).fetchone()
            current = Position(*row) if row else Position()

            def load(key: str) -> Doc | None:
                r = conn.execute(
                    "SELECT doc FROM view_documents WHERE view=%s AND key=%s", (view, key)
                ).fetchone()
                return r[0] if r else None

            changed, pos = _fold(current, events, load, apply, keys_of)
            with conn.cursor() as cur:
                cur.executemany(
                    "INSERT INTO view_documents(view, key, doc) VALUES (%s,%s,%s) "
                    "ON CONFLICT(view, key) DO UPDATE SET doc=excluded.doc",
                    [(view, k, Jsonb(d)) for k, d in changed.items()],
                )
            conn.execute(
                "INSERT INTO projection_positions(projection, stream_seq, store_position) "
                "VALUES (%s,%s,%s) ON CONFLICT(projection) DO UPDATE SET "
                "stream_seq=excluded.stream_seq, store_position=excluded.store_position",
                (projection, pos.stream_seq, pos.store_position),
            )
        return pos

    def close(self) -> None:
        self._pool.close()
