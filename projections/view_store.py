"""Where views live: JSON documents keyed by (view, key), each projection's position, and
an index of dated rows for worklists.

A batch of events, every view derived from the documents it changed (the per-role views)
and the new position are written in one transaction, so a crash or a redelivery applies
every event exactly once and no role's view is ever behind another's. SQLite for embedded
mode, PostgreSQL in production; both satisfy the same contract tests.
"""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

from projections.sealed_documents import PLAIN, DocumentSeal
from projections.worklists import Row

Doc = dict[str, Any]
Apply = Callable[[Doc | None, Doc, str], Doc]
"""(current document or None, event, document key) → new document."""
KeysOf = Callable[[Doc], list[str]]
"""The documents of a view an event touches (a conference event may touch several)."""


@dataclass
class Derived:
    """What a changed document implies elsewhere: documents of other views, index rows."""

    docs: list[tuple[str, str, Doc]] = field(default_factory=list)
    rows: list[Row] = field(default_factory=list)


Derive = Callable[[str, Doc], Derived]


ALIASES_DDL = ("CREATE TABLE IF NOT EXISTS view_aliases ("
               " alias TEXT PRIMARY KEY, target TEXT NOT NULL)")
RESOLVE = "COALESCE((SELECT target FROM view_aliases WHERE alias={p}), {p})"
"""A view name as readers see it → the namespace that holds it now (a rebuild's switch)."""


@dataclass(frozen=True)
class Position:
    stream_seq: int = 0
    """Last applied sequence of the events stream."""
    store_position: int = 0
    """Store position (notification id) of the last applied event, for lag."""


@dataclass(frozen=True)
class RowQuery:
    kind: str
    before: str | None = None
    """Only rows dated strictly before this ISO date."""
    on_or_after: str | None = None
    key: str | None = None
    who: str | None = None
    limit: int = 50
    offset: int = 0


class ViewStore(Protocol):
    def position(self, projection: str) -> Position: ...
    def get(self, view: str, key: str) -> Doc | None: ...
    def scan(self, view: str) -> list[Doc]: ...
    def rows(self, query: RowQuery) -> tuple[list[Doc], int]: ...
    def apply_batch(
        self, projection: str, view: str, events: Iterable[tuple[int, Doc]], apply: Apply,
        keys_of: KeysOf, derive: Derive | None = None,
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


def _writes(view: str, changed: dict[str, Doc], derive: Derive | None
            ) -> tuple[list[tuple[str, str, Doc]], dict[str, list[Row]]]:
    docs = [(view, k, d) for k, d in changed.items()]
    rows: dict[str, list[Row]] = {}
    if derive is not None:
        for key, doc in changed.items():
            derived = derive(key, doc)
            docs.extend(derived.docs)
            rows[key] = derived.rows
    return docs, rows


def _row_filter(q: RowQuery, mark: str) -> tuple[str, list[Any]]:
    where, params = ["kind = " + mark], [q.kind]
    for column, op, value in (("date", "<", q.before), ("date", ">=", q.on_or_after),
                              ("key", "=", q.key), ("who", "=", q.who)):
        if value is not None:
            where.append(f"{column} {op} {mark}")
            params.append(value)
    return " AND ".join(where), params


SQLITE_SCHEMA = (
    "CREATE TABLE IF NOT EXISTS view_documents ("
    " view TEXT NOT NULL, key TEXT NOT NULL, doc TEXT NOT NULL, PRIMARY KEY (view, key));"
    "CREATE TABLE IF NOT EXISTS projection_positions ("
    " projection TEXT PRIMARY KEY, stream_seq INTEGER NOT NULL,"
    " store_position INTEGER NOT NULL);"
    "CREATE TABLE IF NOT EXISTS view_rows ("
    " key TEXT NOT NULL, kind TEXT NOT NULL, item_id TEXT NOT NULL, date TEXT NOT NULL,"
    " who TEXT NOT NULL, detail TEXT NOT NULL, PRIMARY KEY (key, kind, item_id));"
    "CREATE INDEX IF NOT EXISTS view_rows_by_kind_date ON view_rows (kind, date);"
    f"{ALIASES_DDL};"
)


class SQLiteViewStore:
    def __init__(self, path: Path, seal: DocumentSeal = PLAIN) -> None:
        self.seal = seal
        path.parent.mkdir(parents=True, exist_ok=True)
        self._conn = sqlite3.connect(str(path), check_same_thread=False, isolation_level=None)
        self._conn.execute("PRAGMA journal_mode=WAL")
        self._conn.execute("PRAGMA busy_timeout=10000")
        self._lock = threading.Lock()
        with self._lock:
            self._conn.executescript(SQLITE_SCHEMA)

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
                f"SELECT doc FROM view_documents WHERE view={RESOLVE.format(p='?')} AND key=?",
                (view, view, key),
            ).fetchone()
        return self.seal.loads(row[0]) if row else None

    def scan(self, view: str) -> list[Doc]:
        with self._lock:
            rows = self._conn.execute(
                f"SELECT doc FROM view_documents WHERE view={RESOLVE.format(p='?')}", (view, view)
            ).fetchall()
        return [self.seal.loads(r[0]) for r in rows]

    def rows(self, query: RowQuery) -> tuple[list[Doc], int]:
        where, params = _row_filter(query, "?")
        with self._lock:
            total = self._conn.execute(f"SELECT count(*) FROM view_rows WHERE {where}",
                                       params).fetchone()[0]
            found = self._conn.execute(
                f"SELECT detail, date FROM view_rows WHERE {where} "
                "ORDER BY date, key, item_id LIMIT ? OFFSET ?",
                [*params, query.limit, query.offset]).fetchall()
        return [{**self.seal.loads(d), "date": date} for d, date in found], int(total)

    def apply_batch(
        self, projection: str, view: str, events: Iterable[tuple[int, Doc]], apply: Apply,
        keys_of: KeysOf, derive: Derive | None = None,
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
                # Readers and writers go through the alias a rebuild's switch flips.
                view = c.execute(f"SELECT {RESOLVE.format(p='?')}", (view, view)).fetchone()[0]

                def load(key: str) -> Doc | None:
                    r = c.execute(
                        "SELECT doc FROM view_documents WHERE view=? AND key=?", (view, key)
                    ).fetchone()
                    return self.seal.loads(r[0]) if r else None

                changed, pos = _fold(current, events, load, apply, keys_of)
                docs, rows = _writes(view, changed, derive)
                c.executemany(
                    "INSERT INTO view_documents(view, key, doc) VALUES (?,?,?) "
                    "ON CONFLICT(view, key) DO UPDATE SET doc=excluded.doc",
                    [(v, k, self.seal.dumps(d)) for v, k, d in docs],
                )
                for key, key_rows in rows.items():
                    c.execute("DELETE FROM view_rows WHERE key=?", (key,))
                    c.executemany(
                        "INSERT INTO view_rows(key, kind, item_id, date, who, detail) "
                        "VALUES (?,?,?,?,?,?)",
                        [(key, r.kind, r.item_id, r.date, r.who, self.seal.dumps(r.detail))
                         for r in key_rows])
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


POSTGRES_SCHEMA = (
    "CREATE TABLE IF NOT EXISTS view_documents ("
    " view TEXT NOT NULL, key TEXT NOT NULL, doc JSONB NOT NULL, PRIMARY KEY (view, key))",
    "CREATE TABLE IF NOT EXISTS projection_positions ("
    " projection TEXT PRIMARY KEY, stream_seq BIGINT NOT NULL, store_position BIGINT NOT NULL)",
    "CREATE TABLE IF NOT EXISTS view_rows ("
    " key TEXT NOT NULL, kind TEXT NOT NULL, item_id TEXT NOT NULL, date TEXT NOT NULL,"
    " who TEXT NOT NULL, detail JSONB NOT NULL, PRIMARY KEY (key, kind, item_id))",
    "CREATE INDEX IF NOT EXISTS view_rows_by_kind_date ON view_rows (kind, date)",
    ALIASES_DDL,
)


class PostgresViewStore:
    def __init__(self, conninfo: str, schema: str, pool_size: int = 4,
                 seal: DocumentSeal = PLAIN) -> None:
        self.seal = seal
        from psycopg import sql
        from psycopg_pool import ConnectionPool

        self._pool = ConnectionPool(
            conninfo, min_size=1, max_size=pool_size, open=True,
            # Autocommit: a read is one round trip (no COMMIT after it); apply_batch opens its
            # own transaction explicitly.
            kwargs={"autocommit": True, "options": f"-c search_path={schema}"},
        )
        with self._pool.connection() as conn:
            conn.execute(sql.SQL("CREATE SCHEMA IF NOT EXISTS {}").format(sql.Identifier(schema)))
            for statement in POSTGRES_SCHEMA:
                conn.execute(statement)

    @property
    def pool(self) -> Any:
        """The connection pool, shared with tables kept beside the views."""
        return self._pool

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
                f"SELECT doc FROM view_documents WHERE view={RESOLVE.format(p='%s')} AND key=%s",
                (view, view, key),
            ).fetchone()
        return self.seal.open(row[0]) if row else None

    def scan(self, view: str) -> list[Doc]:
        with self._pool.connection() as conn:
            rows = conn.execute(
                f"SELECT doc FROM view_documents WHERE view={RESOLVE.format(p='%s')}", (view, view)
            ).fetchall()
        return [self.seal.open(r[0]) for r in rows]

    def rows(self, query: RowQuery) -> tuple[list[Doc], int]:
        where, params = _row_filter(query, "%s")
        with self._pool.connection() as conn:
            total = conn.execute(f"SELECT count(*) FROM view_rows WHERE {where}",
                                 params).fetchone()
            found = conn.execute(
                f"SELECT detail, date FROM view_rows WHERE {where} "
                "ORDER BY date, key, item_id LIMIT %s OFFSET %s",
                [*params, query.limit, query.offset]).fetchall()
        return ([{**self.seal.open(d), "date": date} for d, date in found],
                int(total[0] if total else 0))

    def apply_batch(
        self, projection: str, view: str, events: Iterable[tuple[int, Doc]], apply: Apply,
        keys_of: KeysOf, derive: Derive | None = None,
    ) -> Position:
        from psycopg.types.json import Jsonb

        with self._pool.connection() as conn, conn.transaction():
            row = conn.execute(
                "SELECT stream_seq, store_position FROM projection_positions "
                "WHERE projection=%s FOR UPDATE",
                (projection,),
            ).fetchone()
            current = Position(*row) if row else Position()
            resolved = conn.execute(f"SELECT {RESOLVE.format(p='%s')}", (view, view)).fetchone()
            view = resolved[0] if resolved else view

            def load(key: str) -> Doc | None:
                r = conn.execute(
                    "SELECT doc FROM view_documents WHERE view=%s AND key=%s", (view, key)
                ).fetchone()
                return self.seal.open(r[0]) if r else None

            changed, pos = _fold(current, events, load, apply, keys_of)
            docs, rows = _writes(view, changed, derive)
            with conn.cursor() as cur:
                cur.executemany(
                    "INSERT INTO view_documents(view, key, doc) VALUES (%s,%s,%s) "
                    "ON CONFLICT(view, key) DO UPDATE SET doc=excluded.doc",
                    [(v, k, Jsonb(self.seal.seal(d))) for v, k, d in docs],
                )
                for key, key_rows in rows.items():
                    cur.execute("DELETE FROM view_rows WHERE key=%s", (key,))
                    cur.executemany(
                        "INSERT INTO view_rows(key, kind, item_id, date, who, detail) "
                        "VALUES (%s,%s,%s,%s,%s,%s)",
                        [(key, r.kind, r.item_id, r.date, r.who, Jsonb(self.seal.seal(r.detail)))
                         for r in key_rows])
            conn.execute(
                "INSERT INTO projection_positions(projection, stream_seq, store_position) "
                "VALUES (%s,%s,%s) ON CONFLICT(projection) DO UPDATE SET "
                "stream_seq=excluded.stream_seq, store_position=excluded.store_position",
                (projection, pos.stream_seq, pos.store_position),
            )
        return pos

    def close(self) -> None:
        self._pool.close()
