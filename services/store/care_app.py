"""careloop's use-case API over the event store (the eventsourcing ``Application``).

Synchronous, like the library: async callers use ``asyncio.to_thread``. Every write goes
through ``record``, which stores the domain events and the message-ledger entry in one
transaction, so a message is either wholly applied (and remembered) or not at all.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from typing import TypeVar
from uuid import UUID

from eventsourcing.application import AggregateNotFoundError, Application
from eventsourcing.domain import Aggregate
from eventsourcing.persistence import IntegrityError, JSONTranscoder, Mapper
from eventsourcing.utils import Environment

from contracts.v1.events import event_id
from domain.provenance import Provenance
from projections.postgres_ddl import setup_serialized
from services.message_ledger import ProcessedMessage, ledger_id
from services.store.event_seal import CheckedMapper, seal_key
from services.store.key_ring import LEGACY_PLAINTEXT, OLD_KEYS, KeyRing
from services.store.transcodings import register_careloop_transcodings

A = TypeVar("A", bound=Aggregate)


class ConcurrentChange(Exception):
    """Another writer changed the same aggregate first; the message is retried (transient)."""


@dataclass(frozen=True)
class Outcome:
    event_ids: list[str]
    duplicate: bool
    last_position: int | None = None


class CareLoop(Application[UUID]):
    name = "careloop"

    def __init__(self, env: Mapping[str, str] | None = None) -> None:
        super().__init__(env)
        self._local = threading.local()

    def construct_env(self, name: str, env: Mapping[str, str] | None = None) -> Environment:
        # Only the settings we pass: a stray POSTGRES_* in the process environment must not
        # redirect where clinical records are written.
        return Environment(name, dict(env or {}))

    def construct_mapper(self) -> Mapper[UUID]:
        """Events are sealed with a key derived from the cipher key (``event_seal``)."""
        mapper = self.factory.mapper(transcoder=self.construct_transcoder(),
                                     mapper_class=CheckedMapper)
        assert isinstance(mapper, CheckedMapper)
        key = self.env.get("CIPHER_KEY")
        if key and self.env.get("CIPHER_TOPIC"):
            mapper.seal_key = seal_key(key)
            mapper.older_keys = tuple(
                seal_key(k) for k in KeyRing.parse_old(self.env.get(OLD_KEYS) or ""))
            mapper.legacy_unsealed = self.env.get(LEGACY_PLAINTEXT) == "y"
        return mapper

    def register_transcodings(self, transcoder: JSONTranscoder) -> None:
        super().register_transcodings(transcoder)
        register_careloop_transcodings(transcoder)

    @contextmanager
    def identity_map(self) -> Iterator[dict[UUID, Aggregate | None]]:
        """Within this block (and thread) every load of an id returns the same object.

        A batch of messages applies its commands in order to these shared objects, so a
        referral made and accepted in one batch is one aggregate with two pending events.
        The caller puts aggregates it creates into the map, and preloaded ones too.
        """
        loaded: dict[UUID, Aggregate | None] = {}
        self._local.identity_map = loaded
        try:
            yield loaded
        finally:
            self._local.identity_map = None

    def _get(self, aggregate_id: UUID) -> Aggregate | None:
        loaded: dict[UUID, Aggregate | None] | None = getattr(self._local, "identity_map", None)
        if loaded is not None and aggregate_id in loaded:
            return loaded[aggregate_id]
        try:
            found: Aggregate | None = self.repository.get(aggregate_id)
        except AggregateNotFoundError:
            found = None
        if loaded is not None:
            loaded[aggregate_id] = found
        return found

    def find(self, aggregate_id: UUID, kind: type[A]) -> A | None:
        """The aggregate of that kind with that id, or None (also if the id is another kind's)."""
        found = self._get(aggregate_id)
        return found if isinstance(found, kind) else None

    def exists(self, aggregate_id: UUID) -> bool:
        return self._get(aggregate_id) is not None

    def processed(self, source_system: str, message_id: str) -> ProcessedMessage | None:
        return self.find(ledger_id(source_system, message_id), ProcessedMessage)

    def record(self, provenance: Provenance, message_type: str, changed: Sequence[Aggregate]) -> Outcome:
        """Store the changed aggregates' new events and the ledger entry, atomically."""
        ids = [
            event_id(agg.id, e.originator_version) for agg in changed for e in agg.pending_events
        ]
        entry = ProcessedMessage(
            id=ledger_id(provenance.source_system, provenance.message_id),
            source_system=provenance.source_system,
            message_id=provenance.message_id,
            message_type=message_type,
            correlation_id=provenance.correlation_id,
            event_ids=ids,
        )
        try:
            # Ledger first: each transaction then ends on a domain event, so the store's head
            # is always a published position and projection lag can reach exactly zero.
            recordings = self.save(entry, *changed)
        except IntegrityError as e:
            prior = self.processed(provenance.source_system, provenance.message_id)
            if prior is not None:
                return Outcome(prior.event_ids, duplicate=True)
            raise ConcurrentChange(str(e)) from e
        positions = [r.notification.id for r in recordings]
        return Outcome(ids, duplicate=False, last_position=max(positions, default=None))

    def head_position(self) -> int:
        return self.recorder.max_notification_id() or 0


def create_care_app(env: dict[str, str]) -> CareLoop:
    if env.get("PERSISTENCE_MODULE") != "eventsourcing.postgres":
        return CareLoop(env=env)
    import psycopg

    conninfo = psycopg.conninfo.make_conninfo(
        host=env["POSTGRES_HOST"], port=env["POSTGRES_PORT"], dbname=env["POSTGRES_DBNAME"],
        user=env["POSTGRES_USER"], password=env.get("POSTGRES_PASSWORD") or None,
        connect_timeout=env.get("POSTGRES_CONNECT_TIMEOUT", "5"))
    with setup_serialized(conninfo):  # the library creates its tables: one process at a time
        return CareLoop(env=env)

