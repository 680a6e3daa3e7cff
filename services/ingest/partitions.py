"""Which inbound messages an ingest process consumes when ingest runs as several processes
(``ingest_partitions`` = N, this one ``ingest_partition`` = i).

Partitioned by team system: every message of a system (``careloop.in.<system>.<type>``)
goes to partition ``hash(system) mod N``, a stable hash (BLAKE2b), so every process with
the same N and the same partner registry draws the same lines. Each partition has its own
durable consumer whose filter lists its systems' subjects.

Why by system and not by client: the inbound stream is a work queue, where JetStream
allows each message one consumer only (filters may not overlap), so the split has to be
one a subject filter can express, and the subject names the system, never the client.
It is also the order that matters: a system that publishes without waiting for receipts
relies on careloop applying its messages in the order it sent them, including across
aggregates (client before consent before referral; ``referral.received`` names only the
referral). One process per system keeps all of that. Messages from different systems are
ordered by causality already: a system acts on another's fact only after it was stored
(it learnt of it from a receipt, feed or query), and so after that fact was applied.
Two systems writing to the same client at once meet the store's optimistic concurrency,
which ingest retries like any other conflict.

The limit: one system's messages are applied by one process, so the busiest system's rate
caps at one partition's (docs/operations.md). Only the registry's systems are consumed
when N > 1: the closed bus lets no one else publish inbound.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable

from services.bus.streams import INBOUND_SUBJECTS, inbound_subject
from services.settings import Settings


def partition_of(system: str, partitions: int) -> int:
    digest = hashlib.blake2b(system.encode(), digest_size=8).digest()
    return int.from_bytes(digest, "big") % partitions


def check_partition(settings: Settings) -> None:
    if not 0 <= settings.ingest_partition < settings.ingest_partitions:
        raise ValueError(f"CARELOOP_INGEST_PARTITION={settings.ingest_partition} is not one "
                         f"of 0..{settings.ingest_partitions - 1} "
                         f"(CARELOOP_INGEST_PARTITIONS={settings.ingest_partitions})")


def durable_name(settings: Settings, partition: int | None = None) -> str:
    """One partition's durable consumer on the inbound stream (unpartitioned: the name
    careloop always used, so an existing consumer keeps its place)."""
    n = settings.ingest_partitions
    if n == 1:
        return f"{settings.consumer_prefix}-ingest"
    i = settings.ingest_partition if partition is None else partition
    return f"{settings.consumer_prefix}-ingest-{i}-of-{n}"


def durable_names(settings: Settings) -> list[str]:
    return [durable_name(settings, i) for i in range(settings.ingest_partitions)]


def lease_key(settings: Settings) -> str:
    return f"ingest.{settings.ingest_partition}-of-{settings.ingest_partitions}"


def filter_subjects(settings: Settings, systems: Iterable[str]) -> list[str]:
    """The inbound subjects this process consumes; empty when no registered system hashes
    to its partition (it then waits, consuming nothing)."""
    if settings.ingest_partitions == 1:
        return [INBOUND_SUBJECTS]
    return sorted(inbound_subject(s, ">") for s in set(systems)
                  if partition_of(s, settings.ingest_partitions) == settings.ingest_partition)
