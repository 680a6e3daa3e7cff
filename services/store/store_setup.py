"""Opens the event store and the view store, one process at a time per schema.

Both create their tables (and, with database functions on, ``CREATE OR REPLACE FUNCTION``)
at start. PostgreSQL refuses concurrent DDL on the same objects ("tuple concurrently
updated", duplicate type names), so careloop processes started together (ingest, relay,
projector, api) take a per-schema advisory lock for the few milliseconds of setup.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import psycopg

from projections.view_store import ViewStore
from services.settings import Settings
from services.store.care_app import CareLoop, create_care_app
from services.store.event_store_config import eventsourcing_env, postgres_conninfo
from services.store.view_stores import open_view_store


@contextmanager
def _setup_lock(settings: Settings) -> Iterator[None]:
    if settings.store != "postgres":
        yield
        return
    with psycopg.connect(postgres_conninfo(settings), autocommit=True) as conn:
        key = f"careloop-setup:{settings.postgres_schema}"
        conn.execute("SELECT pg_advisory_lock(hashtext(%s))", (key,))
        try:
            yield
        finally:
            conn.execute("SELECT pg_advisory_unlock(hashtext(%s))", (key,))


def open_stores(settings: Settings) -> tuple[CareLoop, ViewStore]:
    with _setup_lock(settings):
        app = create_care_app(eventsourcing_env(settings))
        try:
            views = open_view_store(settings)
        except BaseException:
            app.close()
            raise
    return app, views
