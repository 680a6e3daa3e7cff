"""Consumes ``careloop.in.>`` from JetStream in batches: validate, apply, commit, answer, ack.

Ack policy, chosen on purpose (FastStream's default would terminate a failing message):
the handler settles every message itself, and only after its batch is committed and its
receipt published. Per message of a fetched batch:
- accepted or refused (contract or domain rule): receipt, then ``ack``;
- transient trouble (database or NATS away, a concurrent writer): ``nak`` with a growing
  delay, so JetStream redelivers; a redelivery of a committed message finds its ledger
  entry and gets the same receipt;
- failing for any other reason (a poison message): ``nak`` with a delay until its
  ``ingest_max_deliver``-th delivery, then its original bytes, subject, headers and the
  reason go to the dead-letter stream, the sender gets an ``internal_error`` receipt, and
  the message is terminated.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import structlog
from eventsourcing.persistence import PersistenceError
from faststream.nats import NatsBroker
from nats.aio.msg import Msg
from nats.js import JetStreamContext
from nats.js.api import AckPolicy, ConsumerConfig

from contracts.v1.envelope import Envelope
from contracts.v1.parsing import Rejection, parse_message
from contracts.v1.receipts import Receipt
from domain.errors import DomainError
from services.bus.jetstream_fetch import fetch_ready
from services.bus.jetstream_pipeline import PipelinedPublisher
from services.bus.streams import (
    INBOUND_SUBJECTS,
    deadletter_subject,
    receipts_subject,
    split_inbound_subject,
)
from services.commands.batch import Result, apply_batch
from services.fhir.inbound import translate as translate_fhir
from services.ingest import receipts
from services.partners.registry import load_partner_registry
from services.settings import Settings
from services.store.care_app import CareLoop, ConcurrentChange, Outcome

log = structlog.get_logger("careloop.ingest")

TRANSIENT = (ConcurrentChange, PersistenceError, OSError, ConnectionError, asyncio.TimeoutError)


def _backoff(deliveries: int) -> float:
    return float(min(0.2 * 2 ** max(deliveries - 1, 0), 30.0))


@dataclass
class Delivery:
    """One fetched message and what became of it."""

    raw: Msg
    source: str
    message_type: str
    sequence: int
    deliveries: int
    message: Envelope | None = None
    rejection: Rejection | None = None
    result: Result | None = None


class Ingest:
    def __init__(
        self, app: CareLoop, broker: NatsBroker, settings: Settings,
        on_committed: Callable[[], None] = lambda: None,
    ) -> None:
        self.app, self.broker, self.settings = app, broker, settings
        self.on_committed = on_committed
        self.processed = 0
        self.batches = 0
        self._pipeline: PipelinedPublisher | None = None
        self.stopped = asyncio.Event()
        self.partners = load_partner_registry(settings)

    async def run(self, stop: asyncio.Event) -> None:
        """Pull batches until stopped. Our own pull loop, not a FastStream subscriber: its
        batch mode waits to fill a batch (latency), while ``fetch`` returns what is there.

        Two batches overlap: while one is answered and acknowledged here, the next one is
        already applied in the worker thread (each is committed before it is answered).
        """
        backoff = 0.5
        sub: Any = None
        settling: asyncio.Task[None] | None = None
        while not stop.is_set():
            try:
                if sub is None:
                    sub = await self._subscribe()
                raws = await fetch_ready(sub, self.settings.ingest_batch_size, wait=0.5)
                if not raws:
                    continue
                deliveries = await self._apply(raws)
                if settling is not None:
                    await settling
                settling = asyncio.create_task(self._settle_all(deliveries))
                backoff = 0.5
            except Exception as e:  # NATS away: unacknowledged messages come back later
                if stop.is_set():
                    break
                log.warning("ingest_retrying_fetch", error=type(e).__name__, detail=str(e)[:200])
                if sub is not None:
                    with contextlib.suppress(Exception):
                        await sub.unsubscribe()
                sub = None
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(stop.wait(), timeout=backoff)
                backoff = min(backoff * 2, 10.0)
        if settling is not None:
            with contextlib.suppress(Exception):
                await settling
        # Leave nothing subscribed on the broker's connection: its drain would wait for it.
        with contextlib.suppress(Exception):
            if sub is not None:
                await sub.unsubscribe()
            if self._pipeline is not None:
                await self._pipeline.close()
        self.stopped.set()

    async def _subscribe(self) -> Any:
        s = self.settings
        return await self._js().pull_subscribe(
            INBOUND_SUBJECTS, durable=f"{s.consumer_prefix}-ingest", stream=s.stream_inbound,
            config=ConsumerConfig(
                ack_policy=AckPolicy.EXPLICIT, ack_wait=60, max_deliver=-1,
                max_ack_pending=max(1000, 4 * s.ingest_batch_size),
            ),
        )

    def _js(self) -> JetStreamContext:
        js: JetStreamContext = self.broker.config.connection_state.stream
        return js

    async def handle(self, raws: Sequence[Msg]) -> None:
        """Apply and settle one fetched batch: every message is acked, nak'ed or dead-lettered."""
        await self._settle_all(await self._apply(raws))

    async def _apply(self, raws: Sequence[Msg]) -> list[Delivery]:
        structlog.contextvars.clear_contextvars()
        self.batches += 1
        deliveries = await asyncio.to_thread(self.process, raws)
        if any(isinstance(d.result, Outcome) and not d.result.duplicate for d in deliveries):
            self.on_committed()
        return deliveries

    async def _settle_all(self, deliveries: Sequence[Delivery]) -> None:
        await asyncio.gather(*(self._settle(d) for d in deliveries))

    def process(self, raws: Sequence[Msg]) -> list[Delivery]:
        """Parse and apply a fetched batch (in a worker thread: eventsourcing is synchronous)."""
        deliveries = []
        for raw in raws:
            meta = raw.metadata
            source, message_type = split_inbound_subject(raw.subject)
            d = Delivery(raw, source, message_type, meta.sequence.stream, meta.num_delivered)
            try:
                d.message = self._authorised(translate_fhir(
                    parse_message(raw.data, source, message_type)))
            except Rejection as rejection:
                d.rejection = rejection
            deliveries.append(d)
        valid = [d for d in deliveries if d.message is not None]
        results = apply_batch(self.app, [d.message for d in valid if d.message is not None])
        for d, result in zip(valid, results, strict=True):
            d.result = result
        return deliveries

    def _authorised(self, message: Envelope) -> Envelope:
        """The actor must belong to an organisation the sending system speaks for (the
        partner registry); checked before anything is applied."""
        problem = self.partners.authorise(message.source_system, message.actor.organisation)
        if problem is not None:
            raise Rejection(problem.code, [problem], {
                "message_id": message.message_id, "correlation_id": message.correlation_id})
        return message

    async def _settle(self, d: Delivery) -> None:
        ctx: dict[str, Any] = {"source_system": d.source, "message_type": d.message_type,
                               "inbound_sequence": d.sequence}
        if d.message is not None:
            ctx.update(message_id=d.message.message_id, correlation_id=d.message.correlation_id)
            client_id = getattr(getattr(d.message, "payload", None), "client_id", None)
            if client_id is not None:
                ctx["client_id"] = str(client_id)
        elif d.rejection is not None:
            ctx.update({k: v for k, v in d.rejection.known.items()
                        if k in ("message_id", "correlation_id")})
        try:
            if d.rejection is not None:
                await self._answer(receipts.rejected_input(
                    d.rejection, d.source, d.message_type, d.sequence), ctx)
            elif d.message is not None and isinstance(d.result, Outcome):
                await self._answer(receipts.accepted(d.message, d.result, d.sequence), ctx)
                self.processed += 1
            elif d.message is not None and isinstance(d.result, DomainError):
                await self._answer(receipts.rejected_by_rule(d.message, d.result, d.sequence), ctx)
            elif isinstance(d.result, TRANSIENT):
                delay = _backoff(d.deliveries)
                log.warning("ingest_retrying", error=type(d.result).__name__,
                            deliveries=d.deliveries, delay=delay, **ctx)
                await d.raw.nak(delay=delay)
                return
            else:
                await self._poison(d, ctx)
                return
            await d.raw.ack()
        except Exception as e:  # the receipt could not be published: try again later
            log.warning("ingest_retrying", error=type(e).__name__, deliveries=d.deliveries, **ctx)
            await _quietly(d.raw.nak(delay=_backoff(d.deliveries)))

    async def _poison(self, d: Delivery, ctx: dict[str, Any]) -> None:
        error = d.result
        reason = f"{type(error).__name__}: {error}"[:1000]
        log.error("ingest_failed", error=type(error).__name__, deliveries=d.deliveries,
                  exc_info=error if isinstance(error, BaseException) else None, **ctx)
        if d.deliveries < self.settings.ingest_max_deliver:
            await d.raw.nak(delay=_backoff(d.deliveries))
            return
        headers = {k: v for k, v in (d.raw.headers or {}).items() if not k.startswith("Nats-")}
        headers.update({
            "Careloop-Original-Subject": d.raw.subject,
            "Careloop-Original-Sequence": str(d.sequence),
            "Careloop-Deliveries": str(d.deliveries),
            "Careloop-Reason": reason.replace("\r", " ").replace("\n", " "),
            "Nats-Msg-Id": f"careloop-deadletter-{d.sequence}",
        })
        await self._js().publish(
            deadletter_subject(d.raw.subject), d.raw.data,
            stream=self.settings.stream_deadletter, headers=headers,
        )
        await self._answer(receipts.failed(d.message, d.source, d.message_type, d.sequence,
                                           d.deliveries), ctx)
        log.error("ingest_dead_lettered", deliveries=d.deliveries, reason=reason, **ctx)
        await d.raw.term()

    async def _answer(self, receipt: Receipt, ctx: dict[str, Any]) -> None:
        if self._pipeline is None:
            self._pipeline = PipelinedPublisher(self._js()._nc)
        sent = await self._pipeline.publish(
            receipts_subject(receipt.source_system or "unknown"),
            receipt.model_dump_json().encode(), self.settings.stream_receipts,
            {"Careloop-Receipt-For": str(receipt.inbound_sequence)},
        )
        await asyncio.wait_for(sent, timeout=10)
        # Accepted receipts are the bulk of traffic: debug. Refusals are worth reading.
        (log.debug if receipt.status == "accepted" else log.info)(
            "receipt", status=receipt.status, reason=receipt.reason, duplicate=receipt.duplicate,
            events=len(receipt.event_ids), **ctx)


async def _quietly(awaitable: Any) -> None:
    try:
        await awaitable
    except Exception as e:  # NATS away: the ack wait expires and JetStream redelivers
        log.warning("ingest_nak_failed", error=type(e).__name__)
