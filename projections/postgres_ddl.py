"""Creating tables when several careloop processes start at once.

PostgreSQL's ``CREATE TABLE IF NOT EXISTS`` looks before it creates, so two processes that
start together (a compose stack starts seven) can both decide to create the same table,
and one of them fails with a unique violation in the catalogue. Every careloop set-up that
creates tables therefore holds an advisory lock while it does: set-ups run one after the
other, and the later ones find the tables there.

``SETUP_LOCK`` is taken inside the set-up's own transaction (released when it ends);
``setup_serialized`` holds the same lock on a connection of its own around code that creates
tables on other connections (the event store library's tables, types and, with database
functions on, ``CREATE OR REPLACE FUNCTION``, which PostgreSQL refuses concurrently: "tuple
concurrently updated"). Never nest the two in one thread.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from typing import Any

SETUP_KEY = 0x636172656C6F6F01
SETUP_LOCK = f"SELECT pg_advisory_xact_lock({SETUP_KEY})"
"""As the first statement of a set-up transaction."""


def create_all(conn: Any, statements: Iterable[Any]) -> None:
    """Run ``statements`` on a psycopg connection in one transaction, under the set-up lock."""
    with conn.transaction():
        conn.execute(SETUP_LOCK)
        for statement in statements:
            conn.execute(statement)


@contextmanager
def setup_serialized(conninfo: str) -> Iterator[None]:
    """Hold the library's set-up lock on a connection of its own while the block runs."""
    import psycopg

    with psycopg.connect(conninfo, autocommit=True) as conn:
        conn.execute("SELECT pg_advisory_lock(%s)", (SETUP_KEY,))
        try:
            yield
        finally:
            conn.execute("SELECT pg_advisory_unlock(%s)", (SETUP_KEY,))
