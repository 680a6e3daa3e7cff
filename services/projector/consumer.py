"""Feeds views from the JetStream events stream, one transaction per fetched batch.

The view store's recorded position is the truth: at start the consumer is recreated to
deliver from the next sequence, and anything delivered again is skipped by sequence.

A batch the view store refuses for a reason other than the database being away is applied
again one event per transaction; an event that still fails (text PostgreSQL cannot hold, a
shape the view code does not expect) is quarantined with its reason, logged as an alert,
and the position moves past it, so one event never stalls every view behind it.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
from dataclasses import dataclass
from typing import Any

import structlog
from nats.aio.msg import Msg
from nats.js import JetStreamContext
from nats.js.api import AckPolicy, ConsumerConfig, DeliverPolicy
from nats.js.errors import NotFoundError

from projections import care_plan, care_plan_derived
from projections.view_store import Apply, Derive, KeysOf, ViewStore
from services.bus.jetstream_fetch import fetch_ready
from services.bus.streams import EVENTS_ROOT
from services.bus.waiting import drop_and_back_off
from services.observability import metrics, tracing
from services.projector.quarantine import Quarantine, entry

log = structlog.get_logger("careloop.projector")


@dataclass(frozen=True)
class Projection:
    name: str
    view: str
    apply: Apply
    keys_of: KeysOf
    derive: Derive | None = None


CARE_PLAN = Projection("care_plan_v1", care_plan.VIEW, care_plan.apply, care_plan.keys_of,
                       care_plan_derived.derive)


class Projector:
    def __init__(
        self, js: JetStreamContext, store: ViewStore, stream: str, consumer_prefix: str,
        projection: Projection = CARE_PLAN, batch: int = 1000,
        quarantine: Quarantine | None = None,
    ) -> None:
        self.js, self.store, self.stream = js, store, stream
        self.projection, self.batch = projection, batch
        self.quarantine = quarantine
        self.quarantined = 0
        self.durable = f"{consumer_prefix}-projector-{projection.name}".replace(".", "-")

    async def _subscribe(self) -> JetStreamContext.PullSubscription:
        pos = await asyncio.to_thread(self.store.position, self.projection.name)
        with contextlib.suppress(NotFoundError):
            await self.js.delete_consumer(self.stream, self.durable)
        config = ConsumerConfig(
            ack_policy=AckPolicy.ALL, ack_wait=30, max_ack_pending=10_000,
            deliver_policy=DeliverPolicy.BY_START_SEQUENCE if pos.stream_seq else DeliverPolicy.ALL,
            opt_start_seq=pos.stream_seq + 1 if pos.stream_seq else None,
        )
        log.info("projector_started", projection=self.projection.name, from_seq=pos.stream_seq + 1)
        return await self.js.pull_subscribe(
            f"{EVENTS_ROOT}.>", durable=self.durable, stream=self.stream, config=config
        )

    async def run(self, stop: asyncio.Event) -> None:
        backoff = 0.5
        sub = None
        while not stop.is_set():
            try:
                if sub is None:
                    sub = await self._subscribe()
                msgs = await fetch_ready(sub, self.batch, wait=0.5)
                if not msgs:
                    continue
                spans = tracing.projector_spans(msgs, self.projection.name)
                try:
                    await asyncio.to_thread(self._apply, msgs)
                finally:
                    tracing.end_all(spans)
                await msgs[-1].ack()
                metrics.projected(self.projection.name, len(msgs))
                backoff = 0.5
            except Exception as e:  # NATS away, database away: retry from the recorded position
                metrics.retried("projector", e)
                log.warning("projector_retrying", error=type(e).__name__, detail=str(e)[:200],
                            exc_info=True)
                backoff = await drop_and_back_off(sub, stop, backoff)
                sub = None

    def _apply(self, msgs: list[Msg]) -> None:
        p = self.projection
        items: list[tuple[int, dict[str, Any]]] = []
        for m in msgs:
            try:
                items.append((m.metadata.sequence.stream, json.loads(m.data)))
            except ValueError as e:  # not an event at all: set it aside too
                items.append((m.metadata.sequence.stream, {"unreadable": type(e).__name__}))
        try:
            self.store.apply_batch(p.name, p.view, items, p.apply, p.keys_of, p.derive)
            return
        except Exception as e:
            if self.quarantine is None or is_transient(e):
                raise
            log.warning("projector_one_by_one", size=len(items), error=type(e).__name__)
        for seq, event in items:
            try:
                self.store.apply_batch(p.name, p.view, [(seq, event)], p.apply, p.keys_of,
                                       p.derive)
            except Exception as e:
                if is_transient(e):
                    raise
                self._set_aside(seq, event, e)

    def _set_aside(self, seq: int, event: dict[str, Any], error: Exception) -> None:
        assert self.quarantine is not None
        found = entry(self.projection.name, seq, event, error)
        self.quarantine.add(found)
        # Only the position moves: no document takes the event.
        self.store.apply_batch(self.projection.name, self.projection.view, [(seq, event)],
                               self.projection.apply, _no_keys, None)
        self.quarantined += 1
        metrics.quarantined(self.projection.name)
        log.error("projection_quarantined", alert=True, projection=found.projection,
                  stream_seq=seq, position=found.store_position, event_type=found.event_type,
                  error=found.error)


def _no_keys(event: dict[str, Any]) -> list[str]:
    return []


def is_transient(error: BaseException) -> bool:
    """The database is away or busy (retry the batch); anything else is the event's own."""
    import sqlite3

    import psycopg
    from psycopg_pool import PoolTimeout

    return isinstance(error, sqlite3.OperationalError | psycopg.OperationalError |
                      psycopg.InterfaceError | PoolTimeout | OSError | TimeoutError)
