"""What a team system does: publish a message to careloop and wait for its receipt.

Used by ``careloop post``, the demo story and the end-to-end tests, so they all speak to
careloop exactly as a partner would (JetStream publish, receipt on a subject).
"""

from __future__ import annotations

import asyncio
import json
from typing import Any

import nats
from nats.aio.client import Client as NATS
from nats.aio.msg import Msg

from contracts.v1.receipts import Receipt
from services.bus.connection import report_error, server_list
from services.bus.streams import inbound_subject, receipts_subject
from services.observability import tracing


class PartnerClient:
    def __init__(self, nc: NATS, source_system: str, inbound_stream: str = "CARELOOP_INBOUND"):
        self.nc, self.source_system, self.inbound_stream = nc, source_system, inbound_stream
        self.js = nc.jetstream()
        self._waiting: dict[int, asyncio.Future[Receipt]] = {}
        self._early: dict[int, Receipt] = {}
        self._sub: Any = None

    @classmethod
    async def connect(cls, url: str, source_system: str, inbound_stream: str = "CARELOOP_INBOUND",
                      **options: Any) -> PartnerClient:
        """``options`` go to ``nats.connect``: a partner's ``user``/``password``, ``tls``, and
        ``inbox_prefix`` (``_INBOX_<system>``, the only inbox its NATS user may read)."""
        nc = await nats.connect(server_list(url), **{"connect_timeout": 5, "max_reconnect_attempts": 3,
                                        "error_cb": report_error,
                                        **options})
        client = cls(nc, source_system, inbound_stream)
        await client.start()
        return client

    async def start(self) -> None:
        self._sub = await self.nc.subscribe(receipts_subject(self.source_system), cb=self._on_receipt)

    async def _on_receipt(self, msg: Msg) -> None:
        receipt = Receipt.model_validate_json(msg.data)
        seq = receipt.inbound_sequence
        if seq is None:
            return
        future = self._waiting.pop(seq, None)
        if future is not None and not future.done():
            future.set_result(receipt)
        else:  # not (yet) waited for: keep a bounded number
            if len(self._early) >= 10_000:
                self._early.pop(next(iter(self._early)))
            self._early[seq] = receipt

    async def post_raw(self, body: bytes, message_type: str, timeout: float = 30.0) -> Receipt:
        """Publish ``body`` as ``message_type``; return careloop's receipt for it."""
        subject = inbound_subject(self.source_system, message_type)
        headers, span = tracing.publish_headers(self.source_system, message_type)
        try:  # the W3C traceparent rides along: careloop continues the trace
            ack = await self.js.publish(subject, body, stream=self.inbound_stream, timeout=10,
                                        headers=headers or None)
        finally:
            tracing.end(span)
        if ack.seq in self._early:
            return self._early.pop(ack.seq)
        future: asyncio.Future[Receipt] = asyncio.get_running_loop().create_future()
        self._waiting[ack.seq] = future
        if ack.seq in self._early:  # arrived while we registered
            return self._early.pop(ack.seq)
        try:
            return await asyncio.wait_for(future, timeout)
        finally:
            self._waiting.pop(ack.seq, None)

    async def post(self, message: dict[str, Any], timeout: float = 30.0) -> Receipt:
        return await self.post_raw(json.dumps(message).encode(), message["message_type"], timeout)

    async def close(self) -> None:
        await self.nc.drain()
