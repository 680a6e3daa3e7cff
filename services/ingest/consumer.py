"""Consumes ``careloop.in.>`` from JetStream in batches: validate, apply, commit, answer, ack.

Every fetched message gets exactly one receipt, and one message never holds another:
- parsing is total (``contracts.v1.parsing``): any bytes give a message or a rejection; an
  unexpected error while parsing is that message's failure, never its batch's;
- accepted or refused (contract or domain rule): receipt, then ``ack``;
- transient trouble (database or NATS away, a concurrent writer): the batch is held and
  applied again in this process with a growing delay, with in-progress acks, until it
  commits or ingest stops (a batch's transient failures are always its tail, so order holds);
- failing for any other reason (a poison message): applied again alone, at most
  ``ingest_max_deliver`` attempts within seconds; then its bytes and the reason go to the
  dead-letter stream and the sender gets ``internal_error``, unless the ledger shows the
  message committed (then ``accepted``, with its events);
- a receipt that cannot be published is published again (never the message re-applied); a
  receipt the stream refuses is replaced by a short one.
Order across a crash is kept by the consumer itself (``ordered_consumer``).
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import structlog
from eventsourcing.persistence import InterfaceError, OperationalError
from faststream.nats import NatsBroker
from nats.aio.msg import Msg
from nats.js import JetStreamContext

from contracts.v1.envelope import Envelope
from contracts.v1.parsing import Rejection, parse_message
from domain.errors import DomainError
from services.bus.jetstream_fetch import fetch_ready
from services.bus.streams import split_inbound_subject
from services.bus.waiting import drop_and_back_off
from services.commands.batch import Result, apply_batch
from services.fhir.inbound import translate as translate_fhir
from services.ingest.dead_letter import dead_letter
from services.ingest.ordered_consumer import Heartbeat, subscribe_in_order
from services.ingest.partitions import durable_name, filter_subjects
from services.ingest.receipt_sender import ReceiptSender
from services.ingest.restart_guard import RestartPlan
from services.observability import metrics, tracing
from services.partners.registry import load_partner_registry
from services.settings import Settings
from services.store.care_app import CareLoop, ConcurrentChange, Outcome

log = structlog.get_logger("careloop.ingest")

TRANSIENT = (ConcurrentChange, InterfaceError, OperationalError, OSError, ConnectionError,
             asyncio.TimeoutError)


def _backoff(attempt: int, cap: float) -> float:
    return float(min(0.2 * 2 ** max(attempt - 1, 0), cap))


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
    attempts: int = 0
    suspect: bool = False
    """It killed ingest again and again (``restart_guard``): never applied."""
    acked: bool = False

    @property
    def settled(self) -> bool:
        return self.rejection is not None or isinstance(self.result, Outcome | DomainError)


class Ingest:
    def __init__(
        self, app: CareLoop, broker: NatsBroker, settings: Settings,
        on_committed: Callable[[], None] = lambda: None,
    ) -> None:
        self.app, self.broker, self.settings = app, broker, settings
        self.on_committed = on_committed
        self.processed = 0
        self.batches = 0
        self.dead_lettered = 0
        self.stopped = asyncio.Event()
        self.stopped.set()  # not running (a standby, under a lease, may never run)
        self._stop = asyncio.Event()
        self.partners = load_partner_registry(settings)
        self._sender: ReceiptSender | None = None
        self._plan = RestartPlan()
        self._fetched_to = 0

    @property
    def sender(self) -> ReceiptSender:
        if self._sender is None:
            self._sender = ReceiptSender(self._js(), self.settings.stream_receipts)
        return self._sender

    async def run(self, stop: asyncio.Event) -> None:
        """Pull batches until stopped. Our own pull loop, not a FastStream subscriber: its
        batch mode waits to fill a batch (latency), while ``fetch`` returns what is there.

        Two batches overlap: while one is answered and acknowledged here, the next one is
        already applied in the worker thread (each is committed before it is answered).
        """
        self._stop = stop
        self.stopped.clear()
        self._sender = None  # run again after a lease was lost and taken back
        subjects = filter_subjects(self.settings, self.partners.partners)
        if not subjects:
            log.warning("ingest_partition_empty", partition=self.settings.ingest_partition,
                        partitions=self.settings.ingest_partitions)
            await stop.wait()
        backoff = 0.5
        sub: Any = None
        settling: asyncio.Task[None] | None = None
        started = False
        while not stop.is_set():
            try:
                if sub is None:
                    if settling is not None:  # the floor must not move under the new consumer
                        await settling
                        settling = None
                    sub, self._plan = await subscribe_in_order(
                        self._js(), self.settings, process_start=not started,
                        source=(self.settings.stream_inbound, subjects,
                                durable_name(self.settings)))
                    started = True
                careful = self._fetched_to < self._plan.careful_until
                raws = await fetch_ready(sub, 1 if careful else self.settings.ingest_batch_size,
                                         wait=0.5)
                if not raws:
                    continue
                self._fetched_to = max(self._fetched_to, raws[-1].metadata.sequence.stream)
                heartbeat = Heartbeat(raws)
                try:
                    deliveries = await self._apply(raws)
                except BaseException:
                    await heartbeat.stop()
                    raise
                if settling is not None:
                    await settling
                settling = asyncio.create_task(self._settle_all(deliveries, heartbeat))
                backoff = 0.5
            except Exception as e:  # NATS away: unacknowledged messages come back later
                if stop.is_set():
                    break
                log.warning("ingest_retrying_fetch", error=type(e).__name__, detail=str(e)[:200])
                metrics.retried("ingest", e)
                backoff = await drop_and_back_off(sub, stop, backoff)
                sub = None
        if settling is not None:
            with contextlib.suppress(Exception):
                await settling
        # Leave nothing subscribed on the broker's connection: its drain would wait for it.
        with contextlib.suppress(Exception):
            if sub is not None:
                await sub.unsubscribe()
            if self._sender is not None:
                await self._sender.close()
        self.stopped.set()

    def _js(self) -> JetStreamContext:
        js: JetStreamContext = self.broker.config.connection_state.stream
        return js

    async def handle(self, raws: Sequence[Msg]) -> None:
        """Apply and settle one fetched batch: every message is acked or dead-lettered."""
        await self._settle_all(await self._apply(raws), Heartbeat(raws))

    async def _apply(self, raws: Sequence[Msg]) -> list[Delivery]:
        """Parse and apply, retrying here until each message is settled, poisoned or ingest
        stops (in a worker thread: eventsourcing is synchronous)."""
        structlog.contextvars.clear_contextvars()
        self.batches += 1
        deliveries = await asyncio.to_thread(self._parse_all, raws)
        for d in deliveries:
            if d.suspect and d.message is not None:
                await self._consult_ledger(d)
        todo = [d for d in deliveries if d.message is not None and not d.suspect]
        transient_rounds = 0
        while todo and not self._stop.is_set():
            await self._apply_round(todo)
            todo = [d for d in todo if not d.settled and not self._given_up(d)]
            if not todo:
                break
            if any(isinstance(d.result, TRANSIENT) for d in todo):
                transient_rounds += 1
                delay = _backoff(transient_rounds, 10.0)
                metrics.retried("ingest", todo[0].result)
                log.warning("ingest_retrying", error=type(todo[0].result).__name__,
                            waiting=len(todo), delay=delay)
            else:
                delay = _backoff(max(d.attempts for d in todo), 2.0)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._stop.wait(), timeout=delay)
        return deliveries

    async def _apply_round(self, todo: list[Delivery]) -> None:
        for d in todo:
            if not isinstance(d.result, TRANSIENT):
                d.attempts += 1
        spans = tracing.InboundSpans(todo)
        with spans.current():  # the trace context each message's events store
            results = await asyncio.to_thread(
                apply_batch, self.app, [d.message for d in todo if d.message is not None])
        for d, result in zip(todo, results, strict=True):
            d.result = result
        spans.finish()
        if any(isinstance(r, Outcome) and not r.duplicate for r in results):
            self.on_committed()
        for d in todo:
            if self._given_up(d):
                await self._consult_ledger(d)

    def _given_up(self, d: Delivery) -> bool:
        return (not d.settled and not isinstance(d.result, TRANSIENT)
                and d.attempts >= self.settings.ingest_max_deliver)

    async def _consult_ledger(self, d: Delivery) -> None:
        """A message about to be dead-lettered may have committed (the failure came after):
        its sender must hear ``accepted``, never "nothing was stored"."""
        assert d.message is not None
        try:
            prior = await asyncio.to_thread(self.app.processed, d.source, d.message.message_id)
        except Exception as e:  # cannot tell: keep it as transient, ask again later
            d.result = e if isinstance(e, TRANSIENT) else OperationalError(str(e))
            return
        if prior is not None:
            d.result = Outcome(list(prior.event_ids), duplicate=True)

    def _parse_all(self, raws: Sequence[Msg]) -> list[Delivery]:
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
            except Exception as error:  # a parser bug: this message's failure only
                d.result, d.attempts = error, self.settings.ingest_max_deliver
            if d.sequence == self._plan.suspect:
                d.suspect, d.rejection, d.attempts = True, None, self._plan.restarts
                d.result = RuntimeError(f"ingest died {self._plan.restarts} times in a row "
                                        "holding this message; it was not applied again")
            deliveries.append(d)
        return deliveries

    def _authorised(self, message: Envelope) -> Envelope:
        """The actor must belong to an organisation the sending system speaks for (the
        partner registry); checked before anything is applied."""
        problem = self.partners.authorise(message.source_system, message.actor.organisation)
        if problem is not None:
            raise Rejection(problem.code, [problem], {
                "message_id": message.message_id, "correlation_id": message.correlation_id})
        return message

    async def _settle_all(self, deliveries: Sequence[Delivery], heartbeat: Heartbeat) -> None:
        """Settled messages: receipts sent back to back, then acks in order (each only after
        its receipt is in the stream); poison messages one by one (``_settle``)."""
        try:
            settled = [d for d in deliveries if d.settled]
            try:
                answered = await self.sender.answer_all(settled, _context)
            except Exception as e:  # NATS away: the floor holds, redelivered in order later
                log.warning("ingest_settle_failed", error=type(e).__name__, waiting=len(settled))
                metrics.retried("ingest", e)
                answered = [False] * len(settled)
            for d, ok in zip(settled, answered, strict=True):
                if isinstance(d.result, Outcome) and not d.result.duplicate:
                    self.processed += 1
                if not ok:
                    continue
                try:
                    await d.raw.ack()
                    d.acked = True
                except Exception as e:  # NATS away: the floor holds, redelivered later
                    log.warning("ingest_settle_failed", error=type(e).__name__, **_context(d))
                    metrics.retried("ingest", e)
            for d in deliveries:
                if not d.settled:
                    await self._settle(d)
            metrics.ingest_settled(deliveries)
        finally:
            await heartbeat.stop()

    async def _settle(self, d: Delivery) -> None:
        ctx = _context(d)
        if isinstance(d.result, TRANSIENT) or (
                not d.settled and d.attempts < self.settings.ingest_max_deliver):
            return  # ingest is stopping: unacknowledged, redelivered in order on restart
        try:
            if d.settled:
                answered = await self.sender.answer(d, ctx)
                if isinstance(d.result, Outcome) and not d.result.duplicate:
                    self.processed += 1
            else:
                answered = await self._poison(d, ctx)
            if answered:
                await d.raw.ack()
                d.acked = True
        except Exception as e:  # NATS away: the floor holds, redelivered in order later
            log.warning("ingest_settle_failed", error=type(e).__name__, **ctx)
            metrics.retried("ingest", e)

    async def _poison(self, d: Delivery, ctx: dict[str, Any]) -> bool:
        error = d.result
        reason = f"{type(error).__name__}: {error}"
        log.error("ingest_failed", error=type(error).__name__, attempts=d.attempts,
                  exc_info=error if isinstance(error, BaseException) else None, **ctx)
        await dead_letter(self._js(), self.settings.stream_deadletter, d.raw, d.sequence,
                          d.attempts, reason)
        self.dead_lettered += 1
        metrics.DEAD_LETTERS.inc()
        log.error("ingest_dead_lettered", attempts=d.attempts, reason=reason[:300], **ctx)
        return await self.sender.answer(d, ctx)


def _context(d: Delivery) -> dict[str, Any]:
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
    return ctx
