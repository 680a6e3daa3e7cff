"""Re-seals every stored view document and worklist row under the current key (after a
key rotation), so the old key is no longer needed for the views. Events are not touched:
their stored bytes are covered by the hash chain (see ``services.store.key_ring``)."""

from __future__ import annotations

import sqlite3
from typing import Any

import psycopg
from psycopg.types.json import Jsonb

from services.settings import Settings
from services.store.event_store_config import postgres_conninfo
from services.store.view_stores import view_seal

TABLES = (("view_documents", "doc", ("view", "key")),
          ("view_rows", "detail", ("key", "kind", "item_id")))


def reseal_views(settings: Settings) -> int:
    """Returns how many documents and rows were written again."""
    seal = view_seal(settings)
    if seal.cipher is None:
        raise ValueError("encryption is off: nothing to seal with")
    count = 0
    if settings.store == "sqlite":
        path = settings.resolved_sqlite_path.with_name("careloop-views.sqlite3")
        with sqlite3.connect(str(path)) as conn:
            for table, column, keys in TABLES:
                where = " AND ".join(f"{k}=?" for k in keys)
                rows = conn.execute(f"SELECT {column}, {', '.join(keys)} FROM {table}").fetchall()
                conn.executemany(f"UPDATE {table} SET {column}=? WHERE {where}",
                                 [(seal.dumps(seal.loads(r[0])), *r[1:]) for r in rows])
                count += len(rows)
        return count
    with psycopg.connect(postgres_conninfo(settings),
                         options=f"-c search_path={settings.postgres_schema}") as pg:
        for table, column, keys in TABLES:
            where = " AND ".join(f"{k}=%s" for k in keys)
            found: list[Any] = pg.execute(
                f"SELECT {column}, {', '.join(keys)} FROM {table}".encode()).fetchall()
            with pg.cursor() as cur:
                cur.executemany(f"UPDATE {table} SET {column}=%s WHERE {where}".encode(),
                                [(Jsonb(seal.seal(seal.open(r[0]))), *r[1:]) for r in found])
            count += len(found)
    return count
