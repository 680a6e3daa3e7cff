"""Processes die: under a steady load, ingest, relay and projector are each killed with
SIGKILL at random moments and started again. Afterwards every accepted message has exactly
its events in the store, on the events stream and in the views: nothing lost, nothing doubled.
"""

from __future__ import annotations

import asyncio
import os
import random
import time
from pathlib import Path

import pytest

from services.bus.embedded_nats import EmbeddedNats
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
