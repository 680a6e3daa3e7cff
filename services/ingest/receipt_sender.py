"""Publishes each delivery's receipt: the right one, retried on its own, never lost quietly.

Only the publish is retried (a few times within seconds): the message is never applied
again for it. If the receipts stream refuses the receipt itself (too large, for example), a
short one with the same status and reason goes instead, so the sender still hears.
"""

from __future__ import annotations

import asyncio
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

    async def _publish(self, receipt: Receipt) -> None:
        if self._pipeline is None:
            self._pipeline = PipelinedPublisher(self.js._nc)
        sent = await self._pipeline.publish(
            receipts_subject(receipt.source_system or "unknown"),
            receipt.model_dump_json().encode(), self.stream,
            {"Careloop-Receipt-For": str(receipt.inbound_sequence),
             # A message redelivered after its receipt was stored (its ack lost with a
             # NATS node) is answered again: the receipts stream keeps one (2-minute window).
             **({"Nats-Msg-Id": f"careloop-receipt-{receipt.inbound_sequence}"}
                if receipt.inbound_sequence is not None else {})},
        )
        await asyncio.wait_for(sent, timeout=10)

    async def close(self) -> None:
        if self._pipeline is not None:
            await self._pipeline.close()
