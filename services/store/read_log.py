"""The read log: an append-only, hash-chained, encrypted log of reads, built for volume.

Every read of a client's record over the API is a fact the accounting of disclosures must
list. Writing each as an event in the event store costs a row under the store's table lock,
then a relay publish, a projector delivery and a hash-chain link, per read. Here a whole
group commit of reads is one row: the reads (JSON), encrypted with the store's own cipher,
and a SHA-256 digest over the previous row's digest and this row's bytes, so removing,
reordering or editing any row breaks every digest after it (``verify``).

The table lives beside the events, in the event store's own database (the SQLite file or
the PostgreSQL schema) and is written through the store's own connections, so every tool
that opens the store (API, audit CLI) reads the same log.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterator, Sequence
from datetime import datetime
from typing import Any, NamedTuple
from uuid import UUID

from eventsourcing.persistence import IntegrityError, InterfaceError, OperationalError
from eventsourcing.postgres import PostgresApplicationRecorder
from eventsourcing.utils import retry

from projections.postgres_ddl import SETUP_LOCK
from services.store.care_app import CareLoop

GENESIS = b"\x00" * 32


class ReadFact(NamedTuple):
    """One read: who, which view of which client, why, how, when."""

    disclosure_id: UUID
    client_id: UUID
    viewer_id: str
    viewer_role: str
    viewer_organisation: str
    view: str
    purpose: str
    break_glass_reason: str | None
    channel: str
    read_at: datetime
    correlation_id: str | None = None


def _row(fact: ReadFact) -> list[Any]:
    return [fact.disclosure_id.hex, fact.client_id.hex, fact.viewer_id, fact.viewer_role,
            fact.viewer_organisation, fact.view, fact.purpose, fact.break_glass_reason,
            fact.channel, fact.read_at.isoformat(), fact.correlation_id]


def _fact(row: list[Any]) -> ReadFact:
    return ReadFact(UUID(hex=row[0]), UUID(hex=row[1]), row[2], row[3], row[4], row[5], row[6],
                    row[7], row[8], datetime.fromisoformat(row[9]), row[10])


def digest_of(previous: bytes, body: bytes) -> bytes:
    return hashlib.sha256(previous + body).digest()


class ReadLog:
    def __init__(self, app: CareLoop) -> None:
        self.app = app
        self.datastore: Any = app.recorder.datastore  # type: ignore[attr-defined]
        self.postgres = isinstance(app.recorder, PostgresApplicationRecorder)
        self.mark = "%s" if self.postgres else "?"
        self.table = f'"{self.datastore.schema}".read_log' if self.postgres else "read_log"
        self._head: tuple[int, bytes] | None = None
        with self.datastore.transaction(commit=True) as cursor:
            if self.postgres:  # every API process creates it: one at a time
                cursor.execute(SETUP_LOCK)
            cursor.execute(
                f"CREATE TABLE IF NOT EXISTS {self.table} ("
                " seq BIGINT PRIMARY KEY, reads INTEGER NOT NULL, body BYTEA NOT NULL,"
                " digest BYTEA NOT NULL)")

    def _seal(self, body: bytes) -> bytes:
        cipher = self.app.mapper.cipher
        return cipher.encrypt(body) if cipher else body

    def _open(self, body: bytes) -> bytes:
        cipher = self.app.mapper.cipher
        return cipher.decrypt(body) if cipher else body

    @retry((InterfaceError, OperationalError), max_attempts=5, wait=0.2)
    def append(self, facts: Sequence[ReadFact]) -> int:
        """One row for all ``facts``, committed (durable) before this returns its number.

        The chain's head is remembered between appends, so an append is one insert; if
        another process appended meanwhile, the insert collides on the row number and the
        head is read again (a row is never written without its predecessor's digest). A dead
        pooled connection is retried on a fresh one, as the library's own inserts are; if
        the answer to a commit was lost, the retry records those reads a second time (an
        over-count in the accounting, never a read missing from it).
        """
        body = self._seal(json.dumps([_row(f) for f in facts], separators=(",", ":")).encode())
        m = self.mark
        for _ in range(10):
            if self._head is None:
                self._head = self._last()
            seq, digest = self._head[0] + 1, digest_of(self._head[1], body)
            insert = (f"INSERT INTO {self.table} (seq, reads, body, digest) "
                      f"VALUES ({m},{m},{m},{m})")
            try:
                if self.postgres:  # autocommit: one statement, one round trip
                    with self.datastore.get_connection() as conn:
                        conn.execute(insert, (seq, len(facts), body, digest), prepare=True)
                else:
                    with self.datastore.transaction(commit=True) as cursor:
                        cursor.execute(insert, (seq, len(facts), body, digest))
            except IntegrityError:
                self._head = None  # someone else's row took this number
                continue
            except BaseException:
                self._head = None  # unknown outcome: read the head again next time
                raise
            self._head = (seq, digest)
            return seq
        raise IntegrityError("the read log's head kept moving; giving up this append")

    def _last(self) -> tuple[int, bytes]:
        with self.datastore.transaction(commit=False) as cursor:
            cursor.execute(f"SELECT seq, digest FROM {self.table} ORDER BY seq DESC LIMIT 1")
            last = cursor.fetchone()
        return (int(last["seq"]), bytes(last["digest"])) if last else (0, GENESIS)

    def _rows(self, after: int, page: int) -> list[tuple[int, bytes, bytes]]:
        m = self.mark
        with self.datastore.transaction(commit=False) as cursor:
            cursor.execute(f"SELECT seq, body, digest FROM {self.table} WHERE seq > {m} "
                           f"ORDER BY seq LIMIT {m}", (after, page))
            return [(int(r["seq"]), bytes(r["body"]), bytes(r["digest"]))
                    for r in cursor.fetchall()]

    def _pages(self, page: int = 200) -> Iterator[list[tuple[int, bytes, bytes]]]:
        after = 0
        while rows := self._rows(after, page):
            yield rows
            after = rows[-1][0]

    def reads(self) -> Iterator[ReadFact]:
        """Every read, oldest first."""
        for rows in self._pages():
            for _, body, _ in rows:
                for row in json.loads(self._open(body)):
                    yield _fact(row)

    def verify(self) -> int | None:
        """The first row whose digest or number does not follow from the one before, or
        None when the whole log is intact."""
        previous, expected = GENESIS, 1
        for rows in self._pages():
            for seq, body, digest in rows:
                if seq != expected or digest != digest_of(previous, body):
                    return seq if seq == expected else expected
                previous, expected = digest, seq + 1
        return None
