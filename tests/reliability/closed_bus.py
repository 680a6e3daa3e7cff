"""What an anonymous client and a partner's own credentials can and cannot do on careloop's
bus, tried for real against a running careloop (embedded or with the generated config)."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Awaitable, Callable
from typing import Any

import nats
import pytest
from nats.aio.client import Client as NATS
from nats.aio.subscription import Subscription

from services.bus.permissions import partner_inbox
from services.bus.streams import feed_stream
from services.runtime import Runtime
from services.settings import Settings
from tests.helpers import bearer


class Partner:
    """A partner system's own connection, with the errors the server sends it."""

    def __init__(self) -> None:
        self.errors: asyncio.Queue[str] = asyncio.Queue()
        self.nc: NATS | None = None

    async def connect(self, url: str, system: str, password: str) -> NATS:
        async def on_error(e: Exception) -> None:
            await self.errors.put(str(e).lower())

        self.nc = await nats.connect(url, user=system, password=password,
                                     inbox_prefix=partner_inbox(system).encode(),
                                     error_cb=on_error, allow_reconnect=False)
        return self.nc

    async def refused(self, attempt: Callable[[], Awaitable[Any]]) -> str:
        """Run ``attempt``; the server must answer with a permissions violation and the
        attempt must get nothing (it fails or times out)."""
        while not self.errors.empty():
            self.errors.get_nowait()
        try:
            got = await asyncio.wait_for(attempt(), timeout=5)
        except Exception:
            got = None
        error = await asyncio.wait_for(self.errors.get(), timeout=30)
        assert "permissions violation" in error, error
        if isinstance(got, Subscription):  # the server refused the SUB: nothing arrives
            await asyncio.sleep(0.5)
            assert got.delivered == 0 and got.pending_msgs == 0
        else:
            assert not got, got
        return error

    async def close(self) -> None:
        if self.nc is not None and self.nc.is_connected:
            await self.nc.close()


async def anonymous_is_refused(url: str) -> None:
    with pytest.raises(Exception, match=r"(?i)authorization"):
        await nats.connect(url, allow_reconnect=False, max_reconnect_attempts=0,
                           connect_timeout=5)


async def internal_streams_are_closed_to(partner: Partner, s: Settings) -> int:
    """Every way into the inbound, events (with disclosures) and dead-letter streams."""
    assert partner.nc is not None
    nc, js = partner.nc, partner.nc.jetstream(timeout=1)
    internal = (s.stream_inbound, s.stream_events, s.stream_deadletter)
    attempts: list[Callable[[], Awaitable[Any]]] = [
        lambda: nc.subscribe("careloop.events.>"),
        lambda: nc.subscribe("careloop.in.>"),
        lambda: nc.subscribe("careloop.>"),
        lambda: nc.subscribe(">"),
        lambda: nc.subscribe("_INBOX.>"),  # careloop's own replies
    ]
    for stream in internal:
        attempts += [
            lambda stream=stream: js.stream_info(stream),
            lambda stream=stream: js.get_msg(stream, seq=1),
            lambda stream=stream: js.get_msg(stream, seq=1, direct=True),
            lambda stream=stream: js.add_consumer(stream, durable_name="spy"),
            lambda stream=stream: nc.request(
                f"$JS.API.CONSUMER.MSG.NEXT.{stream}.{s.consumer_prefix}-projector-care_plan_v1",
                b'{"batch": 1}', timeout=1),
        ]
    attempts += [
        lambda: js.add_stream(name="SPY", subjects=["careloop.events.>"]),
        lambda: js.delete_stream(s.stream_events),
    ]
    for attempt in attempts:
        await partner.refused(attempt)
    return len(attempts)


async def receipts_from_the_stream(partner: Partner, system: str, s: Settings,
                                   count: int) -> list[dict[str, Any]]:
    """The partner's own durable consumer on the receipts stream, named after it."""
    assert partner.nc is not None
    js = partner.nc.jetstream(timeout=5)
    sub = await js.pull_subscribe_bind(system, s.stream_receipts)
    got: list[dict[str, Any]] = []
    for _ in range(60):
        if len(got) >= count:
            break
        try:
            msgs = await sub.fetch(count - len(got), timeout=1)
        except Exception:
            continue
        for m in msgs:
            got.append(json.loads(m.data))
            await m.ack()
    return got


async def query_care_plan(partner: Partner, runtime: Runtime, client_id: str) -> dict[str, Any]:
    assert partner.nc is not None and runtime.settings.token_secret
    token = bearer(runtime.settings.token_secret)["Authorization"].split()[1]
    reply = await partner.nc.request("careloop.query.care_plan", json.dumps(
        {"token": token, "client_id": client_id}).encode(), timeout=20)
    return json.loads(reply.data)  # type: ignore[no-any-return]


async def other_feeds_are_closed(partner: Partner, s: Settings, other_org: str,
                                 system: str) -> int:
    assert partner.nc is not None
    nc, js = partner.nc, partner.nc.jetstream(timeout=1)
    stream = feed_stream(s, other_org)
    attempts: list[Callable[[], Awaitable[Any]]] = [
        lambda: nc.subscribe(f"careloop.feed.{other_org}.>"),
        lambda: js.get_msg(stream, seq=1, direct=True),
        lambda: js.stream_info(stream),
        lambda: nc.request(f"$JS.API.CONSUMER.MSG.NEXT.{stream}.{system}", b'{"batch": 1}',
                           timeout=1),
        lambda: nc.request(f"$JS.API.CONSUMER.MSG.NEXT.{s.stream_receipts}.harbor-cases",
                           b'{"batch": 1}', timeout=1),  # another system's receipts
    ]
    for attempt in attempts:
        await partner.refused(attempt)
    return len(attempts)
