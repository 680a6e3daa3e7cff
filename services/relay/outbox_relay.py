"""Publishes every stored domain event to JetStream, in store order: the store is the outbox.

The relay's position is the ``Careloop-Position`` header of the last message on the events
stream, read back from JetStream itself at start and after any error. Each publish also
expects the stream's last sequence, so a second relay or a lost acknowledgement cannot
interleave or double events; ``Nats-Msg-Id`` is a further guard within the window.
"""

from __future__ import annotations

import asyncio
import contextlib
from typing import Any

import structlog
from nats.js import JetStreamContext
from nats.js.errors import APIError
from pydantic_core import to_json

from services.bus.jetstream_pipeline import PipelinedPublisher
from services.bus.streams import EVENTS_ROOT
from services.bus.waiting import sleep_or_stop
from services.observability import metrics, tracing
from services.store.care_app import CareLoop
from services.store.event_records import ClientResolver, record_of
from services.store.store_notifications import StoreNotifications

log = structlog.get_logger("careloop.relay")

POSITION_HEADER = "Careloop-Position"
BATCH = 500
ACK_TIMEOUT = 10.0


class OutboxRelay:
    def __init__(self, app: CareLoop, js: JetStreamContext, stream: str, poll_seconds: float):
        self.app, self.js, self.stream, self.poll_seconds = app, js, stream, poll_seconds
        self.wake = asyncio.Event()
        self.position = 0
        self.published = 0
        self._last_seq = 0
        self._client_of = ClientResolver(app)
        self.pipeline = PipelinedPublisher(js._nc)

    async def sync_position(self) -> int:
        self._last_seq, self.position = await stream_position(self.js, self.stream)
        return self.position

    def _read_batch(self) -> list[tuple[int, dict[str, Any] | None, str | None]]:
        """Each notification after our position with its public event (None: not published)
        and the trace context stored with it. The public event is made the way replays make
        it (``record_of``: straight from the stored JSON, checked against the domain-event
        way); a row careloop cannot trust raises ``DamagedEvent``: the relay waits."""
        notes = self.app.recorder.select_notifications(
            self.position, BATCH, inclusive_of_start=False
        )
        public = self._client_of.public
        out: list[tuple[int, dict[str, Any] | None, str | None]] = []
        for note in notes:
            record = record_of(self.app, note, self._client_of)
            out.append((note.id, record, None if record is None else public.trace_context))
        return out

    async def publish_pending(self) -> int:
        """Publish the next batch after our position; returns how many notifications it read.

        The batch is pipelined: every publish is sent before any acknowledgement is awaited.
        Order and exactly-once still hold, because each message expects the stream's last
        sequence to be the one before it (``base + i``): JetStream stores a connection's
        messages in the order sent, so one refused message (another relay got in first, or
        a duplicate of a lost acknowledgement) makes every later one of the batch fail its
        expectation too. Acknowledgements are taken in order; the position only advances
        over acknowledged messages, and any failure re-reads the truth from the stream.
        """
        batch = await asyncio.to_thread(self._read_batch)
        if not batch:
            return 0
        sent: list[tuple[int, asyncio.Future[Any]]] = []
        expected = self._last_seq
        try:
            for position, record, trace in batch:
                if record is None:
                    continue
                event_type = record["event_type"]
                headers = {
                    "Nats-Msg-Id": f"careloop-event-{record['event_id']}",
                    "Nats-Expected-Last-Sequence": str(expected),
                    POSITION_HEADER: str(position),
                    "Careloop-Event-Type": event_type,
                    "Careloop-Correlation-Id": record["correlation_id"],
                }
                if trace is not None:
                    tracing.put_traceparent(headers, trace, event_type)
                # The same bytes as ``OutboundEvent.model_dump_json()`` (tested), no model
                future = await self.pipeline.publish(
                    f"{EVENTS_ROOT}.{event_type}", to_json(record), self.stream, headers,
                )
                sent.append((position, future))
                expected += 1
            count = 0
            for position, future in sent:
                ack = await asyncio.wait_for(future, timeout=ACK_TIMEOUT)
                if ack.duplicate:
                    # Already on the stream (lost ack before a restart); the rest of the
                    # batch fails its expected sequence: realign from the stream.
                    self.published += count
                    metrics.RELAY_PUBLISHED.inc(count)
                    await self.sync_position()
                    return len(batch)
                self._last_seq, self.position = ack.seq, position
                count += 1
        finally:
            for _, future in sent:  # nobody is left waiting for them
                if not future.done():
                    future.cancel()
                elif not future.cancelled():
                    future.exception()  # retrieved, so asyncio does not warn
        self.position = batch[-1][0]  # also past trailing unpublished (ledger) notes
        self.published += count
        metrics.RELAY_PUBLISHED.inc(count)
        return len(batch)

    async def run(self, stop: asyncio.Event) -> None:
        notifications = StoreNotifications(self.app.recorder, self.wake)
        notifications.start()

        async def wake_on_stop() -> None:
            await stop.wait()
            self.wake.set()

        stopper = asyncio.create_task(wake_on_stop())
        try:
            await self._run(stop)
        finally:
            stopper.cancel()
            await asyncio.to_thread(notifications.stop)

    async def _run(self, stop: asyncio.Event) -> None:
        backoff = 0.5
        synced = False
        while not stop.is_set():
            try:
                if not synced:
                    await self.sync_position()
                    synced = True
                    log.info("relay_started", position=self.position)
                self.wake.clear()
                if await self.publish_pending():
                    backoff = 0.5
                    continue
            except (TimeoutError, APIError, OSError, ConnectionError) as e:
                # Wrong last sequence, NATS away, timeouts: re-read the truth from the stream.
                log.warning("relay_retrying", error=type(e).__name__, detail=str(e)[:200])
                metrics.retried("relay", e)
                synced = False
                await sleep_or_stop(stop, backoff)
                backoff = min(backoff * 2, 10.0)
                continue
            except Exception as e:
                log.exception("relay_error")
                metrics.retried("relay", e)
                synced = False
                await sleep_or_stop(stop, backoff)
                backoff = min(backoff * 2, 10.0)
                continue
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self.wake.wait(), timeout=self.poll_seconds)


async def stream_position(js: JetStreamContext, stream: str) -> tuple[int, int]:
    """(last stream sequence, store position of the last published event), from JetStream."""
    info = await js.stream_info(stream)
    if info.state.messages == 0:
        return info.state.last_seq, 0
    last = await js.get_msg(stream, seq=info.state.last_seq)
    return info.state.last_seq, int((last.headers or {}).get(POSITION_HEADER, "0"))

