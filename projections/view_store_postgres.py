"""The view store on PostgreSQL (production): the same contract as the SQLite one, JSONB
documents, one transaction per batch (see ``projections.view_store``)."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from projections.postgres_ddl import create_all
from projections.sealed_documents import PLAIN, DocumentSeal
from projections.view_changes import CHANGED_SINCE, DDL, ViewChanges, note_changes, read_changes
from projections.view_store import (
    ALIASES_DDL,
    RESOLVE,
    Apply,
    Derive,
    Doc,
    KeysOf,
    Position,
    RowQuery,
    _fold,
    _row_filter,
    _writes,
)

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
    *DDL,
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
        with self._pool.connection() as conn:  # several processes may start at once
            create_all(conn, [sql.SQL("CREATE SCHEMA IF NOT EXISTS {}").format(
                sql.Identifier(schema)), *POSTGRES_SCHEMA])

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

            def load_many(keys: list[str]) -> dict[str, Doc]:
                rows = conn.execute(
                    "SELECT key, doc FROM view_documents WHERE view=%s AND key = ANY(%s)",
                    (view, keys)).fetchall()
                return {str(k): self.seal.open(d) for k, d in rows}

            changed, pos = _fold(current, events, load_many, apply, keys_of)
            docs, rows = _writes(view, changed, derive)
            with conn.cursor() as cur:
                cur.executemany(
                    "INSERT INTO view_documents(view, key, doc) VALUES (%s,%s,%s) "
                    "ON CONFLICT(view, key) DO UPDATE SET doc=excluded.doc",
                    [(v, k, Jsonb(self.seal.seal(d))) for v, k, d in docs],
                )
                note_changes(cur.execute, cur.executemany, "%s", [(v, k) for v, k, _ in docs])
                if rows:  # two statements for the whole batch, not two per document
                    cur.execute("DELETE FROM view_rows WHERE key = ANY(%s)", (list(rows),))
                    cur.executemany(
                        "INSERT INTO view_rows(key, kind, item_id, date, who, detail) "
                        "VALUES (%s,%s,%s,%s,%s,%s)",
                        [(key, r.kind, r.item_id, r.date, r.who, Jsonb(self.seal.seal(r.detail)))
                         for key, key_rows in rows.items() for r in key_rows])
            conn.execute(
                "INSERT INTO projection_positions(projection, stream_seq, store_position) "
                "VALUES (%s,%s,%s) ON CONFLICT(projection) DO UPDATE SET "
                "stream_seq=excluded.stream_seq, store_position=excluded.store_position",
                (projection, pos.stream_seq, pos.store_position),
            )
        return pos

    def changes(self, after: int) -> ViewChanges:
        with self._pool.connection() as conn:
            rows = conn.execute(CHANGED_SINCE.format(m="%s"), (after,)).fetchall()
        return read_changes(rows, after)

    def close(self) -> None:
        self._pool.close()
