"""Where the hash chain is kept: its own table beside the events (same SQLite file, same
PostgreSQL schema), one row per chained event: position, content hash, chain hash."""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

from projections.postgres_ddl import create_all
from services.settings import Settings
from services.store.event_store_config import postgres_conninfo

TABLE = "audit_hash_chain"


@dataclass(frozen=True)
class Link:
    position: int
    content: str
    chain: str


class ChainTable(Protocol):
    def head(self) -> Link | None: ...
    def append(self, links: Sequence[Link], after: int) -> bool: ...
    def links(self, after: int, limit: int) -> list[Link]: ...
    def position_of_content(self, content: str) -> int | None: ...
    def close(self) -> None: ...


class SQLiteChainTable:
    def __init__(self, path: Path) -> None:
        self._conn = sqlite3.connect(str(path), check_same_thread=False, isolation_level=None)
        self._conn.execute("PRAGMA busy_timeout=10000")
        self._lock = threading.Lock()
        self._conn.execute(
            f"CREATE TABLE IF NOT EXISTS {TABLE} (notification_id INTEGER PRIMARY KEY,"
            " content_hash TEXT NOT NULL, chain_hash TEXT NOT NULL)"
        )

    def head(self) -> Link | None:
        with self._lock:
            row = self._conn.execute(
                f"SELECT notification_id, content_hash, chain_hash FROM {TABLE} "
                "ORDER BY notification_id DESC LIMIT 1"
            ).fetchone()
        return Link(*row) if row else None

    def append(self, links: Sequence[Link], after: int) -> bool:
        """Append links that continue from ``after``; False if another writer got there first."""
        with self._lock:
            c = self._conn
            c.execute("BEGIN IMMEDIATE")
            try:
                top = c.execute(f"SELECT MAX(notification_id) FROM {TABLE}").fetchone()[0] or 0
                if top != after:
                    c.execute("ROLLBACK")
                    return False
                c.executemany(f"INSERT INTO {TABLE} VALUES (?,?,?)",
                              [(k.position, k.content, k.chain) for k in links])
                c.execute("COMMIT")
            except BaseException:
                c.execute("ROLLBACK")
                raise
        return True

    def links(self, after: int, limit: int) -> list[Link]:
        with self._lock:
            rows = self._conn.execute(
                f"SELECT notification_id, content_hash, chain_hash FROM {TABLE} "
                "WHERE notification_id > ? ORDER BY notification_id LIMIT ?", (after, limit)
            ).fetchall()
        return [Link(*r) for r in rows]

    def position_of_content(self, content: str) -> int | None:
        with self._lock:
            row = self._conn.execute(
                f"SELECT notification_id FROM {TABLE} WHERE content_hash=?", (content,)
            ).fetchone()
        return int(row[0]) if row else None

    def close(self) -> None:
        with self._lock:
            self._conn.close()


class PostgresChainTable:
    def __init__(self, conninfo: str, schema: str) -> None:
        import psycopg

        self._conn = psycopg.connect(conninfo, autocommit=True,
                                     options=f"-c search_path={schema}")
        self._lock = threading.Lock()
        create_all(self._conn, [  # several processes may start at once
            f"CREATE TABLE IF NOT EXISTS {TABLE} (notification_id BIGINT PRIMARY KEY,"
            " content_hash TEXT NOT NULL, chain_hash TEXT NOT NULL)"])

    def _rows(self, query: str, params: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
        with self._lock:
            return self._conn.execute(query.encode(), params).fetchall()

    def head(self) -> Link | None:
        rows = self._rows(f"SELECT notification_id, content_hash, chain_hash FROM {TABLE} "
                          "ORDER BY notification_id DESC LIMIT 1")
        return Link(*rows[0]) if rows else None

    def append(self, links: Sequence[Link], after: int) -> bool:
        with self._lock, self._conn.transaction():
            # One chain writer at a time (the runtime's keeper and a CLI verify may overlap).
            self._conn.execute("SELECT pg_advisory_xact_lock(hashtext(%s))", (TABLE,))
            row = self._conn.execute(f"SELECT MAX(notification_id) FROM {TABLE}".encode()).fetchone()
            if ((row[0] if row else None) or 0) != after:
                return False
            with self._conn.cursor() as cur:
                cur.executemany(f"INSERT INTO {TABLE} VALUES (%s,%s,%s)".encode(),
                                [(k.position, k.content, k.chain) for k in links])
        return True

    def links(self, after: int, limit: int) -> list[Link]:
        rows = self._rows(f"SELECT notification_id, content_hash, chain_hash FROM {TABLE} "
                          "WHERE notification_id > %s ORDER BY notification_id LIMIT %s",
                          (after, limit))
        return [Link(*r) for r in rows]

    def position_of_content(self, content: str) -> int | None:
        rows = self._rows(f"SELECT notification_id FROM {TABLE} WHERE content_hash=%s LIMIT 1",
                          (content,))
        return int(rows[0][0]) if rows else None

    def close(self) -> None:
        with self._lock:
            self._conn.close()


def open_chain_table(settings: Settings) -> ChainTable:
    """The chain's table, in the same database as the event store."""
    if settings.store == "sqlite":
        return SQLiteChainTable(settings.resolved_sqlite_path)
    return PostgresChainTable(postgres_conninfo(settings), settings.postgres_schema)
