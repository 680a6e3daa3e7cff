"""Opens the view store that matches the configured event store."""

from __future__ import annotations

from projections.sealed_documents import DocumentSeal
from projections.view_store import PostgresViewStore, SQLiteViewStore, ViewStore
from services.settings import Settings
from services.store.encryption_at_rest import key_ring
from services.store.event_store_config import postgres_conninfo


def view_seal(settings: Settings) -> DocumentSeal:
    """View documents are sealed with the events' key ring (none when encryption is off)."""
    return DocumentSeal(key_ring(settings))


def open_view_store(settings: Settings) -> ViewStore:
    if settings.store == "sqlite":
        return SQLiteViewStore(settings.resolved_sqlite_path.with_name("careloop-views.sqlite3"),
                               view_seal(settings))
    return PostgresViewStore(
        postgres_conninfo(settings), settings.postgres_schema, settings.postgres_pool_size,
        view_seal(settings),
    )
