"""Consumes ``careloop.in.>`` from JetStream: validate, apply, store, answer, then acknowledge.

Ack policy, chosen on purpose (FastStream's default would terminate a failing message):
the handler acknowledges itself, only after the events are committed and the receipt is
published. Transient trouble (database or NATS away, a concurrent writer) is negatively
acknowledged with a growing delay, so JetStream redelivers; a redelivery of a committed
message finds its ledger entry and republishes the same receipt.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable

import structlog
from eventsourcing.persistence import PersistenceError
from faststream import AckPolicy
from faststream.nats import JStream, NatsBroker, NatsMessage, PullSub
from nats.js.api import ConsumerConfig

from contracts.v1.envelope import Envelope
from contracts.v1.parsing import Rejection, parse_message
from contracts.v1.receipts import Receipt
from domain.errors import DomainError
from services import receipts
from services.care_app import CareLoop, ConcurrentChange
from services.inbound_commands import client_id_of, execute
from services.settings import Settings
from services.streams import INBOUND_SUBJECTS, receipts_subject, split_inbound_subject

log = structlog.get_logger("careloop.ingest")

TRANSIENT = (ConcurrentChange, PersistenceError, OSError, ConnectionError, asyncio.TimeoutError)


def _backoff(deliveries: int) -> float:
    return float(min(0.2 * 2 ** max(deliveries - 1, 0), 30.0))


class Ingest:
    def __init__(
        self, app: CareLoop, broker: NatsBroker, settings: Settings,
        on_committed: Callable[[], None] = lambda: None,
    ) -> None:
        self.app, self.broker, self.settings = app, broker, settings
        self.on_committed = on_committed
        self.processed = 0

    def register(self) -> None:
        """Attach the JetStream subscriber to the broker (before the broker starts)."""
        self.broker.subscriber(
            INBOUND_SUBJECTS,
            stream=JStream(self.settings.stream_inbound, declare=False),
            durable=f"{self.settings.consumer_prefix}-ingest",
            pull_sub=PullSub(batch_size=32, timeout=0.5),
            ack_policy=AckPolicy.MANUAL,
            config=ConsumerConfig(ack_wait=60, max_deliver=-1, max_ack_pending=1000),
        )(self.handle)

    async def handle(self, msg: NatsMessage) -> None:
        # Only the message is injected: FastStream must not decode the body, since
        # malformed bytes are ours to reject with a receipt.
        body, raw = msg.body, msg.raw_message
        meta = raw.metadata
        sequence, deliveries = meta.sequence.stream, meta.num_delivered
        source, message_type = split_inbound_subject(raw.subject)
        structlog.contextvars.clear_contextvars()
        structlog.contextvars.bind_contextvars(
            source_system=source, message_type=message_type, inbound_sequence=sequence
        )
        message: Envelope | None = None
        try:
            try:
                message = parse_message(body, source, message_type)
            except Rejection as rejection:
                structlog.contextvars.bind_contextvars(**{
                    k: v for k, v in rejection.known.items() if k in ("message_id", "correlation_id")
                })
                await self._answer(receipts.rejected_input(rejection, source, message_type, sequence))
                await msg.ack()
                return
            structlog.contextvars.bind_contextvars(
                message_id=message.message_id, correlation_id=message.correlation_id
            )
            try:
                outcome = await asyncio.to_thread(execute, self.app, message)
            except DomainError as error:
                await self._bind_client(message)
                await self._answer(receipts.rejected_by_rule(message, error, sequence))
                await msg.ack()
                return
            await self._bind_client(message)
            if not outcome.duplicate:
                self.on_committed()
            await self._answer(receipts.accepted(message, outcome, sequence))
            await msg.ack()
            self.processed += 1
        except TRANSIENT as e:
            delay = _backoff(deliveries)
            log.warning("ingest_retrying", error=type(e).__name__, deliveries=deliveries, delay=delay)
            await msg.nack(delay=delay)
        except Exception:
            log.exception("ingest_failed", deliveries=deliveries)
            if deliveries >= self.settings.ingest_max_deliver:
                await self._answer(receipts.failed(message, source, message_type, sequence, deliveries))
                await msg.reject()  # kept in the inbound stream for the operators
            else:
                await msg.nack(delay=_backoff(deliveries))

    async def _bind_client(self, message: Envelope) -> None:
        client_id = await asyncio.to_thread(client_id_of, self.app, message)
        if client_id is not None:
            structlog.contextvars.bind_contextvars(client_id=str(client_id))

    async def _answer(self, receipt: Receipt) -> None:
        await self.broker.publish(
            receipt.model_dump_json().encode(),
            receipts_subject(receipt.source_system or "unknown"),
            stream=self.settings.stream_receipts,
            headers={"Careloop-Receipt-For": str(receipt.inbound_sequence)},
        )
        log.info("receipt", status=receipt.status, reason=receipt.reason,
                 duplicate=receipt.duplicate, events=len(receipt.event_ids))
