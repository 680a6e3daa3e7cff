"""Which inbound messages an ingest process consumes when ingest runs as several processes
(``ingest_partitions`` = N, this one ``ingest_partition`` = i).

Partitioned by team system: the registry's systems, sorted by name, are dealt out in turn
(the k-th to partition ``k mod N``), so the partitions differ by at most one system and
every process with the same N and the same partner registry draws the same lines. Each
partition has its own durable consumer whose filter lists its systems' subjects
(``careloop.in.<system>.>``). JetStream refuses a consumer whose filter overlaps another's
on a work queue, so two processes can never consume one system, even while their
registries differ during a rollout (the second waits, retrying, until the first restarts).

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

from collections.abc import Iterable

from services.bus.streams import INBOUND_SUBJECTS, inbound_subject
from services.settings import Settings


def assignment(systems: Iterable[str], partitions: int) -> dict[str, int]:
    """Each system's partition: sorted by name, dealt out in turn."""
    return {system: k % partitions for k, system in enumerate(sorted(set(systems)))}


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
    owner = assignment(systems, settings.ingest_partitions)
    return sorted(inbound_subject(s, ">") for s, i in owner.items()
                  if i == settings.ingest_partition)
