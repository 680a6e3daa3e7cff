"""View documents are sealed at rest, and the key can be rotated: the new key writes, the
old one (kept as an old key) still reads, and after ``rekey-views`` the views need only the
new key. Events keep the key they were written with (the hash chain covers their bytes)."""

from __future__ import annotations

import sqlite3
from typing import Any
from uuid import UUID

import psycopg
import pytest

from services.settings import Settings
from services.store.encryption_at_rest import new_key
from services.store.event_store_config import postgres_conninfo
from services.store.rekey import reseal_views
from services.store.view_stores import open_view_store
from tests.reliability.test_encryption_at_rest import REGISTRATION, register_client

CLIENT = UUID(REGISTRATION["payload"]["client_id"])
PHI = "Rivera"


def write_view(settings: Settings, key: str, text: str) -> None:
    views = open_view_store(settings)
    try:
        position = views.position("test_view").stream_seq
        views.apply_batch("test_view", "test_view", [(position + 1, {"key": key, "text": text})],
                          lambda doc, event, k: {"text": event["text"]},
                          lambda event: [event["key"]])
    finally:
        views.close()


def read_view(settings: Settings, key: str) -> Any:
    views = open_view_store(settings)
    try:
        return views.get("test_view", key)
    finally:
        views.close()


def raw_view_documents(settings: Settings) -> str:
    if settings.store == "sqlite":
        path = settings.resolved_sqlite_path.with_name("careloop-views.sqlite3")
        with sqlite3.connect(path) as conn:
            return repr(conn.execute("SELECT * FROM view_documents").fetchall())
    with psycopg.connect(postgres_conninfo(settings),
                         options=f"-c search_path={settings.postgres_schema}") as conn:
        return repr(conn.execute("SELECT * FROM view_documents").fetchall())


def test_rotating_the_key_keeps_everything_readable(base_settings: Settings) -> None:
    old_key, new = base_settings.cipher_key, new_key()
    register_client(base_settings).close()
    write_view(base_settings, "a", f"{PHI} under the old key")
    assert PHI not in raw_view_documents(base_settings)  # sealed, not plain JSON

    rotated = base_settings.model_copy(update={"cipher_key": new, "cipher_old_keys": old_key})
    app = register_client(rotated)  # the store opened with the rotated ring
    try:
        assert app.repository.get(CLIENT).family_name == PHI  # the old event still reads
    finally:
        app.close()
    assert read_view(rotated, "a") == {"text": f"{PHI} under the old key"}
    write_view(rotated, "b", f"{PHI} under the new key")
    assert reseal_views(rotated) >= 2

    only_new = rotated.model_copy(update={"cipher_old_keys": ""})
    assert read_view(only_new, "a") == {"text": f"{PHI} under the old key"}
    assert read_view(only_new, "b") == {"text": f"{PHI} under the new key"}
    assert PHI not in raw_view_documents(only_new)
    only_old = base_settings  # the old key alone cannot open what the new key sealed
    with pytest.raises(ValueError, match="no key of the ring"):
        read_view(only_old, "b")
