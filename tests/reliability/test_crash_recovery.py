"""Processes die: under a steady load, ingest, relay and projector are each killed with
SIGKILL at random moments and started again. Afterwards every accepted message has exactly
its events in the store, on the events stream and in the views: nothing lost, nothing doubled.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import random
import time
from pathlib import Path

import nats
import pytest
from nats.aio.client import Client as NATS
from nats.aio.msg import Msg
from nats.errors import Error as NatsError
from nats.js import JetStreamContext
from nats.js.errors import NotFoundError

from contracts.v1.receipts import Receipt
from services.bus.embedded_nats import EmbeddedNats
from services.bus.streams import RECEIPTS_ROOT, inbound_subject
from services.runtime import Runtime
from services.settings import Settings
from tests.reliability.components import Component
from tests.reliability.conftest import Figures
from tests.reliability.reconcile import reconcile, wait_until_quiescent
from tests.reliability.workload import Case, Load

CASES = {"postgres": int(os.environ.get("CARELOOP_CRASH_CASES", "400")),  # 8 messages each
         "sqlite": int(os.environ.get("CARELOOP_CRASH_CASES", "150"))}
KILLS_PER_COMPONENT = 3
SEED = int(os.environ.get("CARELOOP_CRASH_SEED", str(random.randrange(1_000_000))))


async def chaos(components: dict[str, Component], rng: random.Random,
                kills: dict[str, int]) -> None:
    """Kill -9 each component KILLS_PER_COMPONENT times, in random order at random moments,
    restarting each straight after (or after a short random pause)."""
    order = [name for name in components for _ in range(KILLS_PER_COMPONENT)]
    rng.shuffle(order)
    for name in order:
        await asyncio.sleep(rng.uniform(0.5, 3.0))
        component = components[name]
        component.kill()
        kills[name] += 1
        await asyncio.sleep(rng.uniform(0.0, 1.0))
        component.start()


@pytest.mark.timeout(600)
@pytest.mark.parametrize("store_kind", ["postgres", "sqlite"])
async def test_killing_ingest_relay_and_projector_under_load_loses_and_doubles_nothing(
    settings: Settings, nats_server: EmbeddedNats, tmp_path: Path, figures: Figures,
) -> None:
    # Streams exist before the first partner publishes (careloop declares them at start).
    setup = await Runtime(settings, components=()).start()
    await setup.stop()
    components = {name: Component(name, settings, tmp_path / "components")
                  for name in ("ingest", "relay", "projector")}
    for component in components.values():
        component.start()
    rng = random.Random(SEED)
    kills = dict.fromkeys(components, 0)
    cases = [Case() for _ in range(CASES[settings.store])]
    load = Load(settings.nats_url or "", settings.stream_inbound, cases)
    started = time.monotonic()
    try:
        chaos_task = asyncio.create_task(chaos(components, rng, kills))
        await load.run()
        await chaos_task
        await wait_until_quiescent(settings)
        for component in components.values():
            assert component.alive(), f"{component.name} died by itself: {component.log_path}"
    finally:
        for component in components.values():
            component.stop()
    elapsed = time.monotonic() - started

    result = await reconcile(settings, load.cases)
    figures(f"crash_recovery[{settings.store}]", {
        "seed": SEED, "messages_sent": load.messages, "publishes": load.attempts,
        "partner_resends": load.resends, "processes_killed": sum(kills.values()),
        "kills": kills, "restarts": sum(c.starts - 1 for c in components.values()),
        "seconds": round(elapsed, 1), **result.figures(),
    })
    assert load.rejected == [], [r.summary for r in load.rejected[:5]]
    assert sum(kills.values()) == 3 * KILLS_PER_COMPONENT
    assert result.problems == []
    assert (result.lost, result.duplicated, result.receipts_disagreeing) == (0, 0, 0)
    # Every step of the loop stores exactly one event.
    assert result.stream_events == result.store_events == load.messages


ORDER_CASES = int(os.environ.get("CARELOOP_CRASH_ORDER_CASES", "120"))  # 8 messages each


class FireAndForget:
    """A partner that publishes each client's steps in order, never waiting for a receipt
    (only for JetStream's acknowledgement that the message is stored), and collects the
    receipts that come back, as many as careloop sends."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.receipts: dict[str, list[Receipt]] = {}

    async def listen(self, nc: NATS) -> None:
        async def keep(msg: Msg) -> None:
            receipt = Receipt.model_validate_json(msg.data)
            self.receipts.setdefault(receipt.message_id or "?", []).append(receipt)

        await nc.subscribe(f"{RECEIPTS_ROOT}.>", cb=keep)

    async def publish_case(self, js: JetStreamContext, case: Case, rng: random.Random) -> None:
        await asyncio.sleep(rng.uniform(0.0, 9.0))  # clients start over the kills' period
        for m in case.messages:
            subject = inbound_subject(str(m["source_system"]), str(m["message_type"]))
            while True:
                try:
                    await js.publish(subject, json.dumps(m).encode(),
                                     stream=self.settings.stream_inbound, timeout=10)
                    break
                except (TimeoutError, NatsError):
                    await asyncio.sleep(0.2)  # not stored: publish again, still in order
            await asyncio.sleep(rng.uniform(0.1, 0.5))  # a case spans a kill and restart


@pytest.mark.timeout(600)
@pytest.mark.parametrize("store_kind", ["postgres", "sqlite"])
async def test_a_partner_that_does_not_wait_for_receipts_keeps_its_order_through_ingest_kills(
    settings: Settings, nats_server: EmbeddedNats, tmp_path: Path, figures: Figures,
) -> None:
    setup = await Runtime(settings, components=()).start()
    await setup.stop()
    ingest = Component("ingest", settings, tmp_path / "components")
    ingest.start()
    rng = random.Random(SEED)
    cases = [Case() for _ in range(ORDER_CASES)]
    partner = FireAndForget(settings)
    nc = await nats.connect(settings.nats_url or "")
    restarts: list[float] = []
    js = nc.jetstream()

    async def kill_ingest() -> None:
        """kill -9 while ingest holds fetched, unacknowledged messages (the case that
        reordered): wait for the consumer to show some pending, then kill at once."""
        for _ in range(KILLS_PER_COMPONENT):
            await asyncio.sleep(rng.uniform(1.0, 3.0))
            for _ in range(600):
                with contextlib.suppress(NotFoundError):  # not (re)created yet
                    info = await js.consumer_info(settings.stream_inbound,
                                                  f"{settings.consumer_prefix}-ingest")
                    if info.num_ack_pending:
                        break
                await asyncio.sleep(0.005)
            ingest.kill()
            await asyncio.sleep(rng.uniform(0.0, 1.0))
            ingest.start()
            restarts.append(time.monotonic())

    try:
        await partner.listen(nc)
        chaos_task = asyncio.create_task(kill_ingest())
        await asyncio.gather(*(partner.publish_case(js, c, rng) for c in cases))
        await chaos_task
        ids = [str(m["message_id"]) for c in cases for m in c.messages]
        deadline = time.monotonic() + 180
        while time.monotonic() < deadline and not all(i in partner.receipts for i in ids):
            await asyncio.sleep(0.1)
        answered_at = time.monotonic()
        assert ingest.alive(), f"ingest died by itself: {ingest.log_path}"
    finally:
        ingest.stop()
        await nc.close()
    missing = [i for i in ids if i not in partner.receipts]
    refused = [(r.message_type, r.reason) for i in ids for r in partner.receipts.get(i, [])
               if r.status != "accepted"]
    figures(f"crash_order[{settings.store}]", {
        "seed": SEED, "messages_sent": len(ids), "ingest_kills": len(restarts),
        "receipts": sum(len(v) for v in partner.receipts.values()),
        "repeated_receipts": sum(len(v) - 1 for v in partner.receipts.values()),
        "seconds_after_last_restart": round(answered_at - restarts[-1], 1),
        "missing": len(missing), "refused": len(refused)})
    assert missing == []
    assert refused == []  # no client_not_registered / consent_required from reordering
    assert len(restarts) == KILLS_PER_COMPONENT
