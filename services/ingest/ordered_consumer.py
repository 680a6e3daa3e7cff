"""The inbound durable consumer, (re)created so that a partner's messages are applied in the
order they were published, even after ingest is killed.

JetStream redelivers an unacknowledged message only when its ack wait expires, and by then
a restarted ingest has applied later messages of the same client (a consent before its
client's registration: refused for good). So at every (re)subscription the consumer is
recreated to deliver again from just after its *ack floor* (the highest sequence below
which everything is acknowledged): the dead process's in-flight messages come back first,
at once and in stream order. Messages after the floor that were already applied find their
ledger entry and get the same receipt again. While a batch is held (applied, retried,
answered), ``Heartbeat`` sends in-progress acks, so the short ack wait never expires under
a slow commit; it only bounds how long a vanished connection holds messages.

One ingest process consumes a partition of the inbound stream at a time (a second one would
reorder too; a lease keeps it a standby): see ``partitions``.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Sequence
from typing import Any

import structlog
from nats.aio.msg import Msg
from nats.js import JetStreamContext
from nats.js.api import AckPolicy, ConsumerConfig, DeliverPolicy
from nats.js.errors import NotFoundError

from services.bus.streams import INBOUND_SUBJECTS
from services.ingest.partitions import durable_name, durable_names
from services.ingest.restart_guard import RestartPlan, plan_restart
from services.settings import Settings

log = structlog.get_logger("careloop.ingest")

ACK_WAIT_SECONDS = 10.0
"""How long JetStream waits for an ack or an in-progress signal before redelivering."""
HEARTBEAT_SECONDS = ACK_WAIT_SECONDS / 3



async def subscribe_in_order(js: JetStreamContext, settings: Settings,
                             source: tuple[str, str | list[str], str] | None = None,
                             process_start: bool = False) -> tuple[Any, RestartPlan]:
    """A pull subscription that starts with the first message not yet acknowledged, and how
    carefully to go (``restart_guard``).

    ``source`` is (stream, subjects, durable); by default the inbound stream's consumer of
    this process's partition, for all inbound subjects."""
    stream, subjects, durable = source or (settings.stream_inbound, INBOUND_SUBJECTS,
                                           durable_name(settings))
    if stream == settings.stream_inbound:
        await _remove_other_layouts(js, settings, stream)
    filters = [subjects] if isinstance(subjects, str) else list(subjects)
    floor = in_flight = delivered = 0
    try:
        info = await js.consumer_info(stream, durable)
        floor = info.ack_floor.stream_seq or 0
        if not floor and info.config.opt_start_seq:  # recreated before, nothing acked since
            floor = info.config.opt_start_seq - 1
        in_flight = info.num_ack_pending or 0
        delivered = info.delivered.stream_seq or 0
        with contextlib.suppress(NotFoundError):
            await js.delete_consumer(stream, durable)
    except NotFoundError:
        pass
    config = ConsumerConfig(
        durable_name=durable, ack_policy=AckPolicy.EXPLICIT, ack_wait=ACK_WAIT_SECONDS,
        max_deliver=-1, max_ack_pending=max(1000, 4 * settings.ingest_batch_size),
        filter_subject=filters[0] if len(filters) == 1 else None,
        filter_subjects=filters if len(filters) > 1 else None,
        deliver_policy=DeliverPolicy.BY_START_SEQUENCE if floor else DeliverPolicy.ALL,
        opt_start_seq=floor + 1 if floor else None,
    )
    plan = await plan_restart(js, settings, durable, floor, in_flight, delivered, process_start)
    await js.add_consumer(stream, config)
    log.info("ingest_subscribed", consumer=durable, subjects=filters, from_seq=floor + 1,
             in_flight=in_flight,
             careful_until=plan.careful_until)
    return await js.pull_subscribe_bind(durable, stream=stream), plan


async def _remove_other_layouts(js: JetStreamContext, settings: Settings, stream: str) -> None:
    """Ingest consumers of another partition count (N changed) would overlap ours, which a
    work-queue stream refuses: they go. Their unacknowledged messages stay in the stream and
    come to the new partitions; every ingest process must be stopped before N changes."""
    ours = set(durable_names(settings))
    prefix = f"{settings.consumer_prefix}-ingest"
    try:
        names = [c.name for c in await js.consumers_info(stream)]
    except Exception as e:  # cannot list: adding ours fails loudly if one overlaps
        log.debug("ingest_consumers_unlisted", error=type(e).__name__)
        return
    for name in names:
        if (name == prefix or name.startswith(prefix + "-")) and name not in ours:
            with contextlib.suppress(NotFoundError):
                await js.delete_consumer(stream, name)
            log.warning("ingest_consumer_of_other_layout_removed", consumer=name,
                        partitions=settings.ingest_partitions)


class Heartbeat:
    """Keeps held messages from being redelivered: in-progress acks until ``stop``."""

    def __init__(self, raws: Sequence[Msg]) -> None:
        self._raws = list(raws)
        self._task = asyncio.create_task(self._beat())

    async def _beat(self) -> None:
        while True:
            await asyncio.sleep(HEARTBEAT_SECONDS)
            for raw in self._raws:
                try:
                    await raw.in_progress()
                except Exception as e:  # NATS away: the ack wait expires, the floor holds
                    log.debug("ingest_heartbeat_failed", error=type(e).__name__)
                    break

    async def stop(self) -> None:
        self._task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await self._task
