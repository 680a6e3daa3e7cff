"""Namespaces of the view store: where a rebuild writes, and the alias that a switch flips.

A rebuild writes a view into a fresh namespace (``care_plan@20261123T101500-1a2b``) in the
same ``view_documents`` table, one page of events per transaction, and records how far it
got under ``rebuild:<namespace>``. Readers and the live projector resolve the view's name
through ``view_aliases``; the switch flips that row in the transaction that also holds the
live projection's position lock, so no batch lands in the old namespace after the flip
and none is lost.
"""

from __future__ import annotations

import json
import sqlite3
import threading
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any, Protocol

from projections.postgres_ddl import create_all
from projections.sealed_documents import PLAIN, DocumentSeal
from projections.view_store import ALIASES_DDL, RESOLVE

Doc = dict[str, Any]
PAGE = 500


def rebuild_position_name(namespace: str) -> str:
    return f"rebuild:{namespace}"


class Namespaces(Protocol):
    def target(self, view: str) -> str: ...
    def live_position(self, projection: str) -> int: ...
    def position(self, namespace: str) -> int: ...
    def load_many(self, namespace: str, keys: list[str]) -> dict[str, Doc]: ...
    def write_page(self, namespace: str, docs: Mapping[str, Doc], position: int) -> None: ...
    def docs(self, namespace: str) -> Iterator[tuple[str, Doc]]: ...
    def switch(self, view: str, namespace: str, projection: str) -> bool: ...
    def drop(self, namespace: str) -> int: ...
    def close(self) -> None: ...


class SQLiteNamespaces:
    def __init__(self, path: Path, seal: DocumentSeal = PLAIN) -> None:
        self.seal = seal
        self._conn = sqlite3.connect(str(path), check_same_thread=False, isolation_level=None)
        self._conn.execute("PRAGMA journal_mode=WAL")
        self._conn.execute("PRAGMA busy_timeout=10000")
        self._lock = threading.Lock()
        self._conn.executescript(
            "CREATE TABLE IF NOT EXISTS view_documents ("
            " view TEXT NOT NULL, key TEXT NOT NULL, doc TEXT NOT NULL, PRIMARY KEY (view, key));"
            "CREATE TABLE IF NOT EXISTS projection_positions ("
            " projection TEXT PRIMARY KEY, stream_seq INTEGER NOT NULL,"
            " store_position INTEGER NOT NULL);"
            f"{ALIASES_DDL};"
        )

    def _one(self, query: str, params: tuple[Any, ...]) -> Any:
        with self._lock:
            row = self._conn.execute(query, params).fetchone()
        return row[0] if row else None

    def target(self, view: str) -> str:
        return str(self._one(f"SELECT {RESOLVE.format(p='?')}", (view, view)))

    def live_position(self, projection: str) -> int:
        return int(self._one("SELECT store_position FROM projection_positions WHERE projection=?",
                             (projection,)) or 0)

    def position(self, namespace: str) -> int:
        return self.live_position(rebuild_position_name(namespace))

    def load_many(self, namespace: str, keys: list[str]) -> dict[str, Doc]:
        if not keys:
            return {}
        marks = ",".join("?" * len(keys))
        with self._lock:
            rows = self._conn.execute(
                f"SELECT key, doc FROM view_documents WHERE view=? AND key IN ({marks})",
                (namespace, *keys)).fetchall()
        return {k: self.seal.loads(d) for k, d in rows}

    def write_page(self, namespace: str, docs: Mapping[str, Doc], position: int) -> None:
        with self._lock:
            c = self._conn
            c.execute("BEGIN IMMEDIATE")
            try:
                c.executemany(
                    "INSERT INTO view_documents(view, key, doc) VALUES (?,?,?) "
                    "ON CONFLICT(view, key) DO UPDATE SET doc=excluded.doc",
                    [(namespace, k, self.seal.dumps(d)) for k, d in docs.items()])
                c.execute(
                    "INSERT INTO projection_positions VALUES (?,0,?) ON CONFLICT(projection) "
                    "DO UPDATE SET store_position=excluded.store_position",
                    (rebuild_position_name(namespace), position))
                c.execute("COMMIT")
            except BaseException:
                c.execute("ROLLBACK")
                raise

    def docs(self, namespace: str) -> Iterator[tuple[str, Doc]]:
        after = ""
        while True:
            with self._lock:
                rows = self._conn.execute(
                    "SELECT key, doc FROM view_documents WHERE view=? AND key>? "
                    "ORDER BY key LIMIT ?", (namespace, after, PAGE)).fetchall()
            for key, doc in rows:
                yield key, self.seal.loads(doc)
            if len(rows) < PAGE:
                return
            after = rows[-1][0]

    def switch(self, view: str, namespace: str, projection: str) -> bool:
        """Point ``view`` at ``namespace`` if it is exactly where the live projection is."""
        with self._lock:
            c = self._conn
            c.execute("BEGIN IMMEDIATE")  # the projector's batches wait for this
            try:
                live = c.execute("SELECT store_position FROM projection_positions "
                                 "WHERE projection=?", (projection,)).fetchone()
                ours = c.execute("SELECT store_position FROM projection_positions "
                                 "WHERE projection=?",
                                 (rebuild_position_name(namespace),)).fetchone()
                if live is None or ours is None or live[0] != ours[0]:
                    c.execute("ROLLBACK")
                    return False
                c.execute("INSERT INTO view_aliases VALUES (?,?) ON CONFLICT(alias) "
                          "DO UPDATE SET target=excluded.target", (view, namespace))
                c.execute("COMMIT")
            except BaseException:
                c.execute("ROLLBACK")
                raise
        return True

    def drop(self, namespace: str) -> int:
        with self._lock:
            c = self._conn
            c.execute("BEGIN IMMEDIATE")
            try:
                n = c.execute("DELETE FROM view_documents WHERE view=?", (namespace,)).rowcount
                c.execute("DELETE FROM projection_positions WHERE projection=?",
                          (rebuild_position_name(namespace),))
                c.execute("COMMIT")
            except BaseException:
                c.execute("ROLLBACK")
                raise
        return int(n)

    def close(self) -> None:
        with self._lock:
            self._conn.close()


class PostgresNamespaces:
    def __init__(self, conninfo: str, schema: str, seal: DocumentSeal = PLAIN) -> None:
        self.seal = seal
        import psycopg
        from psycopg import sql

        self._conn = psycopg.connect(conninfo, autocommit=True,
                                     options=f"-c search_path={schema}")
        self._lock = threading.Lock()
        create_all(self._conn, [  # several processes may start at once
            sql.SQL("CREATE SCHEMA IF NOT EXISTS {}").format(sql.Identifier(schema)),
            "CREATE TABLE IF NOT EXISTS view_documents ("
            " view TEXT NOT NULL, key TEXT NOT NULL, doc JSONB NOT NULL, PRIMARY KEY (view, key))",
            "CREATE TABLE IF NOT EXISTS projection_positions ("
            " projection TEXT PRIMARY KEY, stream_seq BIGINT NOT NULL,"
            " store_position BIGINT NOT NULL)",
            ALIASES_DDL])

    def _rows(self, query: str, params: tuple[Any, ...]) -> list[tuple[Any, ...]]:
        with self._lock:
            return self._conn.execute(query.encode(), params).fetchall()

    def target(self, view: str) -> str:
        return str(self._rows(f"SELECT {RESOLVE.format(p='%s')}", (view, view))[0][0])

    def live_position(self, projection: str) -> int:
        rows = self._rows("SELECT store_position FROM projection_positions WHERE projection=%s",
                          (projection,))
        return int(rows[0][0]) if rows else 0

    def position(self, namespace: str) -> int:
        return self.live_position(rebuild_position_name(namespace))

    def load_many(self, namespace: str, keys: list[str]) -> dict[str, Doc]:
        if not keys:
            return {}
        rows = self._rows("SELECT key, doc FROM view_documents WHERE view=%s AND key = ANY(%s)",
                          (namespace, keys))
        return {str(k): self.seal.open(d) for k, d in rows}

    def write_page(self, namespace: str, docs: Mapping[str, Doc], position: int) -> None:
        with self._lock, self._conn.transaction(), self._conn.cursor() as cur:
            if docs:
                # One statement per page: the documents go over as one JSON array.
                cur.execute(
                    "INSERT INTO view_documents(view, key, doc) "
                    "SELECT %s, d.key, d.doc FROM jsonb_each(%s::jsonb) AS d(key, doc) "
                    "ON CONFLICT(view, key) DO UPDATE SET doc=excluded.doc",
                    (namespace, json.dumps({k: self.seal.seal(d) for k, d in docs.items()})))
            cur.execute(
                "INSERT INTO projection_positions VALUES (%s,0,%s) ON CONFLICT(projection) "
                "DO UPDATE SET store_position=excluded.store_position",
                (rebuild_position_name(namespace), position))

    def docs(self, namespace: str) -> Iterator[tuple[str, Doc]]:
        after = ""
        while True:
            rows = self._rows('SELECT key, doc FROM view_documents WHERE view=%s '
                              'AND key COLLATE "C" > %s ORDER BY key COLLATE "C" LIMIT %s',
                              (namespace, after, PAGE))
            for key, doc in rows:
                yield str(key), self.seal.open(doc)
            if len(rows) < PAGE:
                return
            after = str(rows[-1][0])

    def switch(self, view: str, namespace: str, projection: str) -> bool:
        with self._lock, self._conn.transaction():
            # The projector takes this row lock for each batch: it waits for the flip.
            live = self._conn.execute("SELECT store_position FROM projection_positions "
                                      "WHERE projection=%s FOR UPDATE", (projection,)).fetchone()
            ours = self._conn.execute("SELECT store_position FROM projection_positions "
                                      "WHERE projection=%s",
                                      (rebuild_position_name(namespace),)).fetchone()
            if live is None or ours is None or live[0] != ours[0]:
                return False
            self._conn.execute("INSERT INTO view_aliases VALUES (%s,%s) ON CONFLICT(alias) "
                               "DO UPDATE SET target=excluded.target", (view, namespace))
        return True

    def drop(self, namespace: str) -> int:
        with self._lock, self._conn.transaction():
            n = self._conn.execute("DELETE FROM view_documents WHERE view=%s",
                                   (namespace,)).rowcount
            self._conn.execute("DELETE FROM projection_positions WHERE projection=%s",
                               (rebuild_position_name(namespace),))
        return int(n)

    def close(self) -> None:
        with self._lock:
            self._conn.close()
