"""Leases on a real nats-server: one holder at a time, a standby takes over when the holder
dies (its connection gone, no goodbye), a clean stop hands over at once, and a holder that
can no longer renew stops its job before anyone else may start."""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import time

import nats
import pytest

from services.bus.embedded_nats import EmbeddedNats
from services.bus.lease import LEASE_SECONDS, Lease, open_leases, run_while_held
from services.settings import Settings

pytestmark = pytest.mark.parametrize("store_kind", ["sqlite"])


async def test_only_one_holder_and_a_standby_after_the_holder_stops_renewing(
    settings: Settings, nats_server: EmbeddedNats,
) -> None:
    nc = await nats.connect(nats_server.url)
    try:
        bucket = await open_leases(nc.jetstream(), settings)
        a, b = Lease(bucket, "relay", "a"), Lease(bucket, "relay", "b")
        assert await a.acquire()
        assert not await b.acquire()
        renewed_at = time.monotonic()  # before the renew is sent: its entry lives from later
        assert await a.renew()
        assert await a.current_holder() == "a"
        taken_at = renewed_at
        while not await b.acquire():  # a stopped renewing (died): its entry expires
            assert time.monotonic() - taken_at < LEASE_SECONDS + 5
            await asyncio.sleep(0.2)
        assert time.monotonic() - taken_at >= LEASE_SECONDS - 1.0
        assert await b.current_holder() == "b"
        assert not await a.renew()  # a comes back: it lost the lease, and knows it
        assert not a.held
        await b.release()  # a clean stop: the next one takes it at once
        assert await a.acquire()
    finally:
        await nc.close()


class Holder:
    """A process contending for the lease over its own connection; records when its job
    ran."""

    def __init__(self, name: str, url: str, settings: Settings,
                 spans: list[tuple[str, float, float]]) -> None:
        self.name, self.url, self.settings, self.spans = name, url, settings, spans
        self.stop = asyncio.Event()
        self.running = False

    async def job(self, stop: asyncio.Event) -> None:
        began = time.monotonic()
        self.running = True
        try:
            await stop.wait()
        finally:
            self.running = False
            self.spans.append((self.name, began, time.monotonic()))

    async def start(self) -> None:
        self.nc = await nats.connect(self.url, max_reconnect_attempts=0)
        bucket = await open_leases(self.nc.jetstream(), self.settings)
        self.task = asyncio.create_task(
            run_while_held(Lease(bucket, "relay", self.name), self.stop, self.job))


async def test_a_standby_takes_over_when_the_holder_dies_and_jobs_never_overlap(
    settings: Settings, nats_server: EmbeddedNats,
) -> None:
    spans: list[tuple[str, float, float]] = []
    holders = [Holder(n, nats_server.url, settings, spans) for n in ("a", "b", "c")]
    for h in holders:
        await h.start()
    try:
        overlaps = 0
        deadline = time.monotonic() + 30
        takeovers = 0
        while takeovers < 2 and time.monotonic() < deadline:
            running = [h for h in holders if h.running]
            overlaps += len(running) > 1
            if len(running) == 1:  # the holder dies: its connection drops, nothing released
                await running[0].nc.close()
                takeovers += 1
                while running[0].running or not any(h.running for h in holders):
                    overlaps += sum(h.running for h in holders) > 1
                    assert time.monotonic() < deadline, "no standby took over"
                    await asyncio.sleep(0.05)
            await asyncio.sleep(0.05)
        assert takeovers == 2
        assert overlaps == 0
        ordered = sorted(spans, key=lambda s: s[1])
        assert [n for n, _, _ in ordered] == [n for n, _, _ in spans]  # one after another
        for (_, _, ended), (_, began, _) in itertools.pairwise(ordered):
            assert began >= ended
    finally:
        for h in holders:
            h.stop.set()
            with contextlib.suppress(Exception):
                await asyncio.wait_for(h.task, 10)
            with contextlib.suppress(Exception):
                await h.nc.close()
