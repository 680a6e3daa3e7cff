"""Chooses and prepares the event store: a SQLite file, or a PostgreSQL schema."""

from __future__ import annotations

import psycopg
from psycopg import sql

from projections.postgres_ddl import create_all
from services.settings import Settings
from services.store.encryption_at_rest import cipher_env


def postgres_conninfo(settings: Settings) -> str:
    return psycopg.conninfo.make_conninfo(
        host=settings.postgres_host,
        port=settings.postgres_port,
        dbname=settings.postgres_dbname,
        user=settings.postgres_user,
        password=settings.postgres_password or None,
        connect_timeout=5,
    )


def ensure_postgres_schema(settings: Settings) -> None:
    with psycopg.connect(postgres_conninfo(settings), autocommit=True) as conn:
        create_all(conn, [  # several processes may start at once
            sql.SQL("CREATE SCHEMA IF NOT EXISTS {}").format(sql.Identifier(settings.postgres_schema))
        ])


def eventsourcing_env(settings: Settings) -> dict[str, str]:
    """The eventsourcing library's own settings, derived from ours (os.environ is not read)."""
    cipher = cipher_env(settings)  # refuses before anything is created without a key
    if settings.store == "sqlite":
        path = settings.resolved_sqlite_path
        path.parent.mkdir(parents=True, exist_ok=True)
        return {
            "PERSISTENCE_MODULE": "eventsourcing.sqlite",
            "SQLITE_DBNAME": str(path),
            "SQLITE_LOCK_TIMEOUT": "10",
            **cipher,
        }
    ensure_postgres_schema(settings)
    # Chosen for speed, measured with ``make bench`` (docs/operations.md, configuration):
    # - ENABLE_DB_FUNCTIONS off: the library's server-side insert function takes no table
    #   lock, so concurrent writers (ingest partitions, the API's read records, the deadline
    #   watcher) commit positions out of order and a tailing relay steps over one for good
    #   (tests/integration/test_store_commit_order.py). The statement path locks the table
    #   (EXCLUSIVE) before inserting: positions become visible in order;
    # - PRE_PING off: a ping costs a round trip on every checkout, and the library already
    #   retries a dead connection (InterfaceError/OperationalError) on a fresh one;
    # - LOCK_TIMEOUT 5 s: writers are serialized by a table lock; one that waits longer
    #   fails, and ingest retries its batch with backoff instead of piling up;
    # - POOL_SIZE (CARELOOP_POSTGRES_POOL_SIZE): ingest writes from one thread, the relay
    #   reads from one and listens on one; 5 leaves room for the API's health probe.
    return {
        **cipher,
        "PERSISTENCE_MODULE": "eventsourcing.postgres",
        "POSTGRES_DBNAME": settings.postgres_dbname,
        "POSTGRES_HOST": settings.postgres_host,
        "POSTGRES_PORT": str(settings.postgres_port),
        "POSTGRES_USER": settings.postgres_user,
        "POSTGRES_PASSWORD": settings.postgres_password,
        "POSTGRES_SCHEMA": settings.postgres_schema,
        "POSTGRES_POOL_SIZE": str(settings.postgres_pool_size),
        "POSTGRES_CONNECT_TIMEOUT": "5",
        "POSTGRES_PRE_PING": "n",
        "POSTGRES_ENABLE_DB_FUNCTIONS": "n",
        "POSTGRES_LOCK_TIMEOUT": "5",
    }
