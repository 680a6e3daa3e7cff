"""Several careloop processes starting at once against a new PostgreSQL schema (a compose
stack starts seven): every one of them creates the tables it needs, and none fails because
another was creating the same table at the same moment (`projections/postgres_ddl.py`)."""

from __future__ import annotations

import threading
from collections.abc import Callable
from functools import partial
from pathlib import Path
from typing import Any

import psycopg

from services.audit.hash_chain_tables import open_chain_table
from services.projector.quarantine import open_quarantine
from services.settings import Settings
from services.store.event_store_config import postgres_conninfo
from services.store.read_log import ReadLog
from services.store.store_setup import open_stores
from tests.conftest import PG

STARTERS = 6


def _start_everything(settings: Settings) -> None:
    """What a process does at start that creates tables, in the order runtime does it."""
    app, views = open_stores(settings)
    try:
        open_quarantine(settings, views)
        open_chain_table(settings)
        ReadLog(app)
    finally:
        views.close()
        app.close()


def _all_at_once(job: Callable[[], None]) -> list[BaseException]:
    barrier = threading.Barrier(STARTERS)
    errors: list[BaseException] = []

    def run() -> None:
        barrier.wait()
        try:
            job()
        except BaseException as e:
            errors.append(e)

    threads = [threading.Thread(target=run) for _ in range(STARTERS)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=120)
    return errors


def test_processes_starting_together_on_a_new_schema_all_start(
        tmp_path: Path, pg_schema: str) -> None:
    settings = Settings(_env_file=None, store="postgres", data_dir=tmp_path,  # type: ignore[call-arg]
                        postgres_schema=pg_schema, **PG)
    for attempt in range(3):  # a new schema each time: the race is at creation
        schema = f"{pg_schema}_{attempt}" if attempt else pg_schema
        run_settings = settings.model_copy(update={"postgres_schema": schema})
        try:
            errors = _all_at_once(partial(_start_everything, run_settings))
            assert errors == [], [repr(e) for e in errors]
            with psycopg.connect(postgres_conninfo(run_settings)) as conn:
                tables = {r[0] for r in conn.execute(
                    "SELECT table_name FROM information_schema.tables WHERE table_schema = %s",
                    (schema,))}
            assert {"projection_quarantine", "audit_hash_chain", "read_log",
                    "view_documents"} <= tables
        finally:
            if attempt:
                _drop(run_settings, schema)


def _drop(settings: Any, schema: str) -> None:
    with psycopg.connect(postgres_conninfo(settings), autocommit=True) as conn:
        conn.execute(psycopg.sql.SQL("DROP SCHEMA IF EXISTS {} CASCADE").format(
            psycopg.sql.Identifier(schema)))
