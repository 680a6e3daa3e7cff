"""Event payloads are encrypted at rest: the raw rows of either store never hold a client's
name, and the production store refuses to start without a key."""

from __future__ import annotations

import json
import sqlite3
from typing import Any
from uuid import UUID

import psycopg
import pytest
from psycopg import sql

from contracts.v1.parsing import parse_message
from services.commands.registry import execute
from services.settings import Settings
from services.store.care_app import CareLoop, create_care_app
from services.store.encryption_at_rest import EncryptionNotConfigured, new_key
from services.store.event_store_config import eventsourcing_env, postgres_conninfo
from tests.helpers import example

REGISTRATION = example("client.registered")
PHI = [REGISTRATION["payload"][k] for k in ("given_name", "family_name", "birth_date")]


def register_client(settings: Settings) -> CareLoop:
    app = create_care_app(eventsourcing_env(settings))
    body = json.dumps(REGISTRATION).encode()
    outcome = execute(app, parse_message(body, "riverside-ehr", "client.registered"))
    assert len(outcome.event_ids) == 1
    return app


def raw_event_rows(settings: Settings) -> list[tuple[Any, ...]]:
    """Every row of the event table, as the database holds it (no eventsourcing in between)."""
    if settings.store == "sqlite":
        with sqlite3.connect(settings.resolved_sqlite_path) as conn:
            return conn.execute("SELECT * FROM stored_events").fetchall()
    with psycopg.connect(postgres_conninfo(settings)) as conn:
        query = sql.SQL("SELECT * FROM {}.{}").format(
            sql.Identifier(settings.postgres_schema), sql.Identifier("careloop_events"))
        return conn.execute(query).fetchall()


def plaintext_found(rows: list[tuple[Any, ...]]) -> set[str]:
    found = set()
    for row in rows:
        for value in row:
            raw = bytes(value) if isinstance(value, bytes | memoryview) else str(value).encode()
            found |= {phi for phi in PHI if phi.encode() in raw}
    return found


def test_raw_event_rows_hold_no_client_name_or_birth_date(base_settings: Settings) -> None:
    assert base_settings.cipher_key, "the suite runs with a key, like production"
    app = register_client(base_settings)
    try:
        client = app.repository.get(UUID(REGISTRATION["payload"]["client_id"]))
        assert client.family_name == "Rivera"  # careloop itself still reads it back
    finally:
        app.close()
    rows = raw_event_rows(base_settings)
    assert rows
    assert plaintext_found(rows) == set()


def test_the_scan_would_see_plaintext_if_encryption_were_off(base_settings: Settings) -> None:
    plain = base_settings.model_copy(update={"encryption": "off"})
    register_client(plain).close()
    assert plaintext_found(raw_event_rows(plain)) == set(PHI)


def test_postgres_refuses_to_start_without_a_key_unless_plaintext_is_chosen(
    pg_schema: str,
) -> None:
    from tests.conftest import PG

    keyless = Settings(_env_file=None, store="postgres", postgres_schema=pg_schema,  # type: ignore[call-arg]
                       cipher_key="", **PG)
    with pytest.raises(EncryptionNotConfigured, match="CARELOOP_CIPHER_KEY"):
        eventsourcing_env(keyless)
    assert "CIPHER_TOPIC" not in eventsourcing_env(keyless.model_copy(update={"encryption": "off"}))


def test_embedded_sqlite_makes_its_own_key_once(tmp_path: Any) -> None:
    import stat

    keyless = Settings(_env_file=None, data_dir=tmp_path, cipher_key="")  # type: ignore[call-arg]
    env = eventsourcing_env(keyless)
    assert env["CIPHER_TOPIC"] == "services.store.key_ring:KeyRingCipher"
    key_file = tmp_path / "cipher-key"
    assert stat.S_IMODE(key_file.stat().st_mode) == 0o600
    assert env["CIPHER_KEY"] == key_file.read_text() == eventsourcing_env(keyless)["CIPHER_KEY"]
    assert "CIPHER_TOPIC" not in eventsourcing_env(keyless.model_copy(update={"encryption": "off"}))
    with pytest.raises(EncryptionNotConfigured, match="16, 24 or 32"):
        eventsourcing_env(keyless.model_copy(update={"cipher_key": "c2hvcnQ="}))


def test_another_key_cannot_read_the_records(base_settings: Settings) -> None:
    register_client(base_settings).close()
    stranger = create_care_app(eventsourcing_env(
        base_settings.model_copy(update={"cipher_key": new_key()})))
    try:
        note = stranger.recorder.select_notifications(0, 1)[0]
        with pytest.raises(Exception, match=r"(?i)tag|decrypt|damaged|seal"):
            stranger.mapper.to_domain_event(note)
    finally:
        stranger.close()


@pytest.mark.parametrize("store_kind", ["sqlite"])
def test_an_embedded_store_written_before_encryption_still_reads(base_settings: Settings) -> None:
    """Rows stored in plaintext by an earlier version read back; new rows are encrypted;
    a row that is neither (tampered ciphertext) is still refused."""
    register_client(base_settings.model_copy(update={"encryption": "off"})).close()
    app = create_care_app(eventsourcing_env(base_settings))
    try:
        assert app.repository.get(UUID(REGISTRATION["payload"]["client_id"])).family_name \
            == "Rivera"
        cipher = app.mapper.cipher
        assert cipher is not None
        sealed = cipher.encrypt(b'{"a": 1}')
        assert b'"a"' not in sealed and cipher.decrypt(sealed) == b'{"a": 1}'
        with pytest.raises(ValueError):
            cipher.decrypt(sealed[:-1] + bytes([sealed[-1] ^ 1]))
        with pytest.raises(ValueError):
            cipher.decrypt(b"not json and not ours")
    finally:
        app.close()
