"""Publishes each delivery's receipt: the right one, retried on its own, never lost quietly.

Only the publish is retried (a few times within seconds): the message is never applied
again for it. If the receipts stream refuses the receipt itself (too large, for example), a
short one with the same status and reason goes instead, so the sender still hears.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any

import structlog
from nats.errors import ConnectionClosedError, NoRespondersError, OutboundBufferLimitError
from nats.errors import TimeoutError as NatsTimeoutError
from nats.js import JetStreamContext

from contracts.v1.receipts import Receipt
from domain.errors import DomainError
from services.bus.jetstream_pipeline import PipelinedPublisher
from services.bus.streams import receipts_subject
from services.ingest import receipts
from services.store.care_app import Outcome

if TYPE_CHECKING:
    from services.ingest.consumer import Delivery

log = structlog.get_logger("careloop.ingest")

PUBLISH_ATTEMPTS = 4
NATS_AWAY = (ConnectionClosedError, NoRespondersError, OutboundBufferLimitError, NatsTimeoutError,
             TimeoutError, ConnectionError, OSError)


def receipt_for(d: Delivery) -> Receipt:
    if d.rejection is not None:
        return receipts.rejected_input(d.rejection, d.source, d.message_type, d.sequence)
    if d.message is not None and isinstance(d.result, Outcome):
        return receipts.accepted(d.message, d.result, d.sequence)
    if d.message is not None and isinstance(d.result, DomainError):
        return receipts.rejected_by_rule(d.message, d.result, d.sequence)
    return receipts.failed(d.message, d.source, d.message_type, d.sequence, d.attempts)


class ReceiptSender:
    def __init__(self, js: JetStreamContext, stream: str) -> None:
        self.js, self.stream = js, stream
        self._pipeline: PipelinedPublisher | None = None

    async def answer(self, d: Delivery, ctx: dict[str, Any]) -> bool:
        """True once the receipt is in the receipts stream; False if NATS stayed away."""
        receipt = receipt_for(d)
        published = compacted = False
        for attempt in range(1, PUBLISH_ATTEMPTS + 1):
            try:
                await self._publish(receipt)
                published = True
                break
            except NATS_AWAY as e:
                log.warning("receipt_retrying", error=type(e).__name__, attempt=attempt, **ctx)
                await asyncio.sleep(0.25 * attempt)
            except Exception as e:  # refused by the stream: the short form always fits
                log.error("receipt_refused", error=type(e).__name__, detail=str(e)[:200], **ctx)
                if compacted:
                    return False
                receipt, compacted = receipts.compact(receipt), True
        if not published:
            return False
        # Accepted receipts are the bulk of traffic: debug. Refusals are worth reading.
        (log.debug if receipt.status == "accepted" else log.info)(
            "receipt", status=receipt.status, reason=receipt.reason, duplicate=receipt.duplicate,
            events=len(receipt.event_ids), **ctx)
        return True

    async def answer_all(self, batch: Sequence[Delivery],
                         context: Callable[[Delivery], dict[str, Any]]) -> list[bool]:
        """``answer`` for a whole batch, cheaply: every receipt is sent back to back, in
        order, and the stream's acknowledgements are awaited together. A receipt that did
        not make it this way (NATS away, refused, no answer in time) goes through ``answer``
        on its own, with its retries and its short form. ``context`` gives a delivery's log
        fields; it is called only for what is logged."""
        receipts = [receipt_for(d) for d in batch]
        sent: list[asyncio.Future[Any] | None] = []
        for receipt in receipts:
            try:
                sent.append(await self._send(receipt))
            except Exception:  # NATS away: this one is answered on its own below
                sent.append(None)
        waiting = [f for f in sent if f is not None]
        if waiting:
            await asyncio.wait(waiting, timeout=10)
        debug = log.is_enabled_for(logging.DEBUG)
        answered = []
        for d, receipt, future in zip(batch, receipts, sent, strict=True):
            if future is not None and future.done() and not future.cancelled() \
                    and future.exception() is None:
                answered.append(True)
                if receipt.status != "accepted":
                    log.info("receipt", status=receipt.status, reason=receipt.reason,
                             duplicate=receipt.duplicate, events=0, **context(d))
                elif debug:
                    log.debug("receipt", status=receipt.status, reason=None,
                              duplicate=receipt.duplicate, events=len(receipt.event_ids),
                              **context(d))
                continue
            if future is not None:
                future.cancel()
            answered.append(await self.answer(d, context(d)))
        return answered

    async def _send(self, receipt: Receipt) -> asyncio.Future[Any]:
        if self._pipeline is None:
            self._pipeline = PipelinedPublisher(self.js._nc)
        return await self._pipeline.publish(
            receipts_subject(receipt.source_system or "unknown"),
            receipt.__pydantic_serializer__.to_json(receipt), self.stream,
            {"Careloop-Receipt-For": str(receipt.inbound_sequence),
             # A message redelivered after its receipt was stored (its ack lost with a
             # NATS node) is answered again: the receipts stream keeps one (2-minute window).
             **({"Nats-Msg-Id": f"careloop-receipt-{receipt.inbound_sequence}"}
                if receipt.inbound_sequence is not None else {})},
        )

    async def _publish(self, receipt: Receipt) -> None:
        await asyncio.wait_for(await self._send(receipt), timeout=10)

    async def close(self) -> None:
        if self._pipeline is not None:
            await self._pipeline.close()
