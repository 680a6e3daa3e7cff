"""The relay publishes every stored domain event once, in store order, across restarts."""

from __future__ import annotations

import asyncio
import json
import uuid
from collections.abc import AsyncIterator
from typing import Any

import nats
import pytest
from nats.aio.client import Client as NATS

from contracts.v1.catalogue import MESSAGE_TYPES
from services.bus.streams import ensure_streams
from services.commands.registry import execute
from services.relay.outbox_relay import POSITION_HEADER, OutboxRelay
from services.settings import Settings
from services.store.care_app import CareLoop, create_care_app
from services.store.event_store_config import eventsourcing_env
from tests.helpers import message


@pytest.fixture
async def nc(settings: Settings) -> AsyncIterator[NATS]:
    conn = await nats.connect(settings.nats_url)
    await ensure_streams(conn.jetstream(), settings)
    yield conn
    await conn.close()


@pytest.fixture
def app(settings: Settings) -> CareLoop:
    care = create_care_app(eventsourcing_env(settings))
    yield care
    care.close()


def post(app: CareLoop, message_type: str, **payload: Any) -> None:
    execute(app, MESSAGE_TYPES[message_type].model_validate(message(message_type, **payload)))


def story(app: CareLoop, referrals: int) -> None:
    cid = uuid.uuid4()
    post(app, "client.registered", client_id=cid)
    post(app, "consent.recorded", client_id=cid)
    for _ in range(referrals):
        rid = uuid.uuid4()
        post(app, "referral.made", referral_id=rid, client_id=cid)
        post(app, "referral.accepted", referral_id=rid)


async def drain(relay: OutboxRelay) -> None:
    await relay.sync_position()
    while await relay.publish_pending():
        pass


async def published(nc: NATS, stream: str) -> list[tuple[int, dict[str, Any]]]:
    js = nc.jetstream()
    info = await js.stream_info(stream)
    out = []
    for seq in range(1, info.state.last_seq + 1):
        msg = await js.get_msg(stream, seq=seq)
        out.append((int(msg.headers[POSITION_HEADER]), json.loads(msg.data)))
    return out


async def test_every_domain_event_is_published_once_in_store_order(
    app: CareLoop, nc: NATS, settings: Settings
) -> None:
    story(app, referrals=3)
    await drain(OutboxRelay(app, nc.jetstream(), settings.stream_events, 0.05))
    events = await published(nc, settings.stream_events)
    assert [e["event_type"] for _, e in events] == ["client.registered", "client.consent_recorded"] + [
        "referral.made", "referral.accepted"] * 3
    positions = [p for p, _ in events]
    assert positions == sorted(positions) and len(set(positions)) == len(positions)
    assert all(e["client_id"] for _, e in events)  # referral events carry their client
    assert all(e["data"] for _, e in events)  # ledger entries never leave careloop


async def test_a_restarted_relay_neither_skips_nor_floods(
    app: CareLoop, nc: NATS, settings: Settings
) -> None:
    story(app, referrals=2)
    await drain(OutboxRelay(app, nc.jetstream(), settings.stream_events, 0.05))
    story(app, referrals=2)
    restarted = OutboxRelay(app, nc.jetstream(), settings.stream_events, 0.05)
    await drain(restarted)
    events = await published(nc, settings.stream_events)
    assert len(events) == 2 * (2 + 2 * 2)
    assert len({e["event_id"] for _, e in events}) == len(events)
    assert restarted.position == app.head_position()


async def test_two_relays_racing_do_not_double_or_interleave(
    app: CareLoop, nc: NATS, settings: Settings
) -> None:
    story(app, referrals=10)

    async def run_relay() -> None:
        relay = OutboxRelay(app, nc.jetstream(), settings.stream_events, 0.05)
        for _ in range(50):
            try:
                await drain(relay)
                return
            except nats.js.errors.APIError:  # lost the race on the expected sequence
                await asyncio.sleep(0.01)

    await asyncio.gather(run_relay(), run_relay())
    events = await published(nc, settings.stream_events)
    assert len(events) == 2 + 2 * 10
    positions = [p for p, _ in events]
    assert positions == sorted(set(positions))


@pytest.mark.parametrize("store_kind", ["postgres"])
async def test_a_commit_by_another_process_wakes_the_relay_without_waiting_for_its_poll(
    nc: NATS, settings: Settings
) -> None:
    """PostgreSQL NOTIFYs every insert; the relay listens, so ingest may run elsewhere."""
    writer = create_care_app(eventsourcing_env(settings))  # stands for the ingest process
    relay_app = create_care_app(eventsourcing_env(settings))
    relay = OutboxRelay(relay_app, nc.jetstream(), settings.stream_events, poll_seconds=3600)
    stop = asyncio.Event()
    running = asyncio.create_task(relay.run(stop))
    try:
        await asyncio.sleep(0.5)  # started, synced, now waiting for a wake-up
        post(writer, "client.registered", client_id=uuid.uuid4())
        for _ in range(500):
            if relay.published == 1:
                break
            await asyncio.sleep(0.02)
        assert relay.published == 1
    finally:
        stop.set()
        await running
        writer.close()
        relay_app.close()
