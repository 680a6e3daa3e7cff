"""Shared fixtures: every test gets its own nats-server, stream names and database schema.

PostgreSQL is the machine's (CARELOOP_TEST_POSTGRES_*; default 127.0.0.1:5432, database
``test``, user ``postgres``). If it is missing, the PostgreSQL tests fail; they never skip.

The suite runs like production: event payloads are encrypted at rest with a key made for
this run (PostgreSQL refuses to start without one); processes the tests start inherit it.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import psycopg
import pytest
from psycopg import sql

from services.bus.embedded_nats import EmbeddedNats
from services.partners.demo_registry import write_demo_registry
from services.settings import Settings
from services.store.encryption_at_rest import new_key

os.environ.setdefault("CARELOOP_CIPHER_KEY", new_key())

PG = {
    "postgres_host": os.environ.get("CARELOOP_TEST_POSTGRES_HOST", "127.0.0.1"),
    "postgres_port": int(os.environ.get("CARELOOP_TEST_POSTGRES_PORT", "5432")),
    "postgres_dbname": os.environ.get("CARELOOP_TEST_POSTGRES_DBNAME", "test"),
    "postgres_user": os.environ.get("CARELOOP_TEST_POSTGRES_USER", "postgres"),
    "postgres_password": os.environ.get("CARELOOP_TEST_POSTGRES_PASSWORD", ""),
}


def _pg_conninfo() -> str:
    return psycopg.conninfo.make_conninfo(
        host=PG["postgres_host"], port=PG["postgres_port"], dbname=PG["postgres_dbname"],
        user=PG["postgres_user"], password=PG["postgres_password"] or None,
    )


@pytest.fixture
def nats_server(tmp_path: Path) -> Iterator[EmbeddedNats]:
    server = EmbeddedNats(tmp_path / "nats").start()
    yield server
    server.stop()


@pytest.fixture
def pg_schema() -> Iterator[str]:
    schema = f"careloop_test_{uuid.uuid4().hex[:12]}"
    yield schema
    with psycopg.connect(_pg_conninfo(), autocommit=True) as conn:
        conn.execute(sql.SQL("DROP SCHEMA IF EXISTS {} CASCADE").format(sql.Identifier(schema)))


@pytest.fixture(params=["sqlite", "postgres"])
def store_kind(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture
def base_settings(tmp_path: Path, store_kind: str, request: pytest.FixtureRequest) -> Settings:
    """Settings for one test: own data dir, own streams, and its own schema on PostgreSQL."""
    tag = uuid.uuid4().hex[:8].upper()
    values: dict[str, object] = {
        "data_dir": tmp_path / "data",
        "store": store_kind,
        "stream_inbound": f"T{tag}_INBOUND",
        "stream_events": f"T{tag}_EVENTS",
        "stream_receipts": f"T{tag}_RECEIPTS",
        "stream_deadletter": f"T{tag}_DEADLETTER",
        "consumer_prefix": f"t{tag.lower()}",
        "http_port": 0,
        "relay_poll_seconds": 0.05,
        "log_format": "json",
        "token_secret": f"test-secret-{uuid.uuid4().hex}",
        # The registry is always on: the demo systems (riverside-ehr, harbor-cases, ...).
        "partners_file": write_demo_registry(tmp_path / "registry"),
        # Partner feeds record a disclosure per published view, asynchronously: off, so a
        # test's store holds only what it did; the feed tests turn them on.
        "feeds": False,
    }
    if store_kind == "postgres":
        values.update(PG, postgres_schema=request.getfixturevalue("pg_schema"))
    return Settings(_env_file=None, **values)  # type: ignore[call-arg]


@pytest.fixture
def settings(base_settings: Settings, nats_server: EmbeddedNats) -> Settings:
    return base_settings.model_copy(update={"nats_url": nats_server.url})


@pytest.fixture
async def runtime(settings: Settings) -> AsyncIterator[object]:
    from services.runtime import Runtime

    running = await Runtime(settings).start()
    yield running
    await running.stop()


from tests.inbound_partner import partner  # noqa: E402 (a fixture shared by ingest tests)

__all__ = ["partner"]
