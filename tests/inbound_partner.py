"""A team system that publishes straight to JetStream and collects every receipt, with the
waits the ingest tests share."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator, Callable
from typing import Any

import nats
import pytest
from nats.aio.client import Client as NATS
from nats.aio.msg import Msg

from contracts.v1.receipts import Receipt
from services.bus.streams import ensure_streams, inbound_subject, receipts_subject
from services.runtime import Runtime
from services.settings import Settings


class Partner:
    """A team system that publishes straight to JetStream and collects every receipt."""

    def __init__(self, nc: NATS, settings: Settings) -> None:
        self.nc, self.settings, self.js = nc, settings, nc.jetstream()
        self.receipts: dict[int, Receipt] = {}

    async def listen(self, source: str) -> None:
        async def keep(msg: Msg) -> None:
            receipt = Receipt.model_validate_json(msg.data)
            assert receipt.inbound_sequence is not None
            self.receipts[receipt.inbound_sequence] = receipt

        await self.nc.subscribe(receipts_subject(source), cb=keep)

    async def publish(self, m: dict[str, Any] | bytes, message_type: str = "") -> int:
        body = m if isinstance(m, bytes) else json.dumps(m).encode()
        kind = message_type or (m["message_type"] if isinstance(m, dict) else "")
        source = m["source_system"] if isinstance(m, dict) else "riverside-ehr"
        ack = await self.js.publish(inbound_subject(source, kind), body,
                                    stream=self.settings.stream_inbound)
        return ack.seq

    async def receipt(self, seq: int, timeout: float = 30.0) -> Receipt:
        return (await self.receipts_for([seq], timeout))[0]

    async def receipts_for(self, seqs: list[int], timeout: float = 30.0) -> list[Receipt]:
        await until(lambda: all(s in self.receipts for s in seqs), timeout)
        return [self.receipts[s] for s in seqs]


async def until(condition: Callable[[], bool], timeout: float = 30.0) -> None:
    for _ in range(int(timeout / 0.02)):
        if condition():
            return
        await asyncio.sleep(0.02)
    raise AssertionError("condition never became true")


@pytest.fixture
async def partner(settings: Settings) -> AsyncIterator[Partner]:
    nc = await nats.connect(settings.nats_url)
    await ensure_streams(nc.jetstream(), settings)
    p = Partner(nc, settings)
    await p.listen("riverside-ehr")
    await p.listen("harbor-cases")
    yield p
    await nc.close()


async def ingest_consumer(partner: Partner) -> Any:
    s = partner.settings
    return await partner.js.consumer_info(s.stream_inbound, f"{s.consumer_prefix}-ingest")


async def stored_events(runtime: Runtime) -> int:
    assert runtime.app is not None
    notes = await asyncio.to_thread(runtime.app.recorder.select_notifications, 1, 100_000)
    return len(notes)


async def until_acked(partner: Partner, seq: int) -> None:
    for _ in range(500):
        if (await ingest_consumer(partner)).ack_floor.stream_seq >= seq:
            return
        await asyncio.sleep(0.02)
    raise AssertionError(f"message {seq} was never acknowledged")


