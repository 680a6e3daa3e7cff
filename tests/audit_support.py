"""Helpers for the audit tests: a store with a client's story, and raw access to its rows."""

from __future__ import annotations

import sqlite3
import uuid
from typing import Any

import psycopg

from contracts.v1.catalogue import MESSAGE_TYPES
from services.commands.registry import execute
from services.settings import Settings
from services.store.care_app import CareLoop
from tests.conftest import PG
from tests.helpers import message


def post(app: CareLoop, message_type: str, **payload: Any) -> None:
    """Apply a message as ingest would (validated envelope → domain → store)."""
    execute(app, MESSAGE_TYPES[message_type].model_validate(message(message_type, **payload)))


def housing_story(app: CareLoop) -> uuid.UUID:
    """Register the example client, record a consent, refer to housing, accept; the referral id."""
    post(app, "client.registered")
    post(app, "consent.recorded")
    referral = uuid.uuid4()
    post(app, "referral.made", referral_id=referral)
    post(app, "referral.accepted", referral_id=referral)
    return referral


class RawStore:
    """The stored_events table, reached with plain SQL as an attacker with database access would."""

    def __init__(self, settings: Settings, table: str) -> None:
        self.kind, self.table = settings.store, table
        if self.kind == "sqlite":
            self.conn: Any = sqlite3.connect(str(settings.resolved_sqlite_path),
                                             isolation_level=None)
            self.id, self.mark = "rowid", "?"
        else:
            info = psycopg.conninfo.make_conninfo(
                host=PG["postgres_host"], port=PG["postgres_port"], dbname=PG["postgres_dbname"],
                user=PG["postgres_user"], password=PG["postgres_password"] or None)
            self.conn = psycopg.connect(info, autocommit=True,
                                        options=f"-c search_path={settings.postgres_schema}")
            self.id, self.mark = "notification_id", "%s"

    def _sql(self, query: str, *params: Any) -> list[Any]:
        query = query.replace("stored_events", self.table)
        cur = self.conn.execute(query.replace("?", self.mark).replace("ID", self.id), params)
        return list(cur.fetchall()) if cur.description else []

    def state(self, position: int) -> bytes:
        return bytes(self._sql("SELECT state FROM stored_events WHERE ID=?", position)[0][0])

    def alter(self, position: int, old: bytes, new: bytes) -> None:
        """Edit the stored bytes: replace ``old`` by ``new`` in plaintext payloads, or flip
        one byte of an encrypted one (payloads are encrypted at rest when a key is set)."""
        state = self.state(position)
        if old in state:
            altered = state.replace(old, new)
        else:
            middle = len(state) // 2
            altered = state[:middle] + bytes([state[middle] ^ 0x01]) + state[middle + 1:]
        assert altered != state
        self._sql("UPDATE stored_events SET state=? WHERE ID=?", altered, position)

    def delete(self, position: int) -> None:
        self._sql("DELETE FROM stored_events WHERE ID=?", position)

    def swap(self, a: int, b: int) -> None:
        self._sql("UPDATE stored_events SET ID=? WHERE ID=?", -1, a)
        self._sql("UPDATE stored_events SET ID=? WHERE ID=?", a, b)
        self._sql("UPDATE stored_events SET ID=? WHERE ID=?", b, -1)

    def forge(self, copy_of: int) -> None:
        """Append a row after the head without careloop's key: the state of a real event
        (valid ciphertext) under a new aggregate id, as a forger with SQL access could."""
        self._sql("INSERT INTO stored_events (originator_id, originator_version, topic, state) "
                  "SELECT ?, originator_version, topic, state FROM stored_events WHERE ID=?",
                  str(uuid.uuid4()) if self.kind == "sqlite" else uuid.uuid4(), copy_of)

    def run(self, query: str, *params: Any) -> list[Any]:
        return self._sql(query, *params)

    def close(self) -> None:
        self.conn.close()
