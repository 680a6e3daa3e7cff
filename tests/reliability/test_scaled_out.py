"""Several of each process, on PostgreSQL: three ingest partitions, two relays (one active,
one standby), a projector and two APIs, each its own ``careloop serve --component X``
process. Twelve team systems post many clients' stories; each system publishes its own
steps without waiting for receipts, and acts on another system's fact only once that fact
was stored (as real systems learn of it: a receipt, a feed, a query). Mid-run an ingest
partition holding unacknowledged messages is killed -9 and restarted, and the active relay
is killed -9: the standby must take over. Afterwards every message has its one answer,
nothing is refused, lost or doubled, the events stream is the store in store order, the
views are right, and both APIs answer alike."""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import random
import signal
import time
from pathlib import Path
from typing import Any

import httpx
import nats
import pytest
from nats.aio.msg import Msg
from nats.errors import Error as NatsError
from nats.js import JetStreamContext
from nats.js.errors import NotFoundError

from contracts.v1.receipts import Receipt
from services.bus.embedded_nats import EmbeddedNats
from services.bus.lease import bucket_name as leases_bucket
from services.bus.streams import RECEIPTS_ROOT, inbound_subject
from services.ingest.partitions import assignment, durable_names
from services.runtime import Runtime
from services.settings import Settings
from tests.helpers import bearer
from tests.reliability.components import Component
from tests.reliability.conftest import Figures
from tests.reliability.reconcile import (
    reconcile,
    store_event_ids,
    stream_event_ids,
    wait_until_quiescent,
)
from tests.reliability.workload import Case, Load

PARTITIONS = 3
SYSTEMS = 6  # riverside-ehr-k and harbor-cases-k, k < SYSTEMS
CASES = 60  # 8 messages each
SEED = int(os.environ.get("CARELOOP_CRASH_SEED", str(random.randrange(1_000_000))))


def registry(path: Path) -> Path:
    partners = [{"system": f"riverside-ehr-{k}", "organisations": ["riverside-cmhc"]}
                for k in range(SYSTEMS)]
    partners += [{"system": f"harbor-cases-{k}", "organisations": ["harbor-housing"]}
                 for k in range(SYSTEMS)]
    path.write_text(json.dumps({"partners": partners}))
    return path


class Systems:
    """The twelve team systems: fire-and-forget within a system, causal across systems."""

    def __init__(self, js: JetStreamContext, settings: Settings) -> None:
        self.js, self.settings = js, settings
        self.receipts: dict[str, list[Receipt]] = {}
        self._arrived: dict[str, asyncio.Event] = {}

    async def listen(self, nc: Any) -> None:
        async def keep(msg: Msg) -> None:
            receipt = Receipt.model_validate_json(msg.data)
            key = receipt.message_id or "?"
            self.receipts.setdefault(key, []).append(receipt)
            self._arrived.setdefault(key, asyncio.Event()).set()

        await nc.subscribe(f"{RECEIPTS_ROOT}.>", cb=keep)

    async def publish(self, m: dict[str, Any]) -> None:
        subject = inbound_subject(str(m["source_system"]), str(m["message_type"]))
        while True:
            try:
                await self.js.publish(subject, json.dumps(m).encode(),
                                      stream=self.settings.stream_inbound, timeout=10)
                return
            except (TimeoutError, NatsError):
                await asyncio.sleep(0.2)  # not stored: publish again, still in order

    async def stored(self, m: dict[str, Any]) -> None:
        event = self._arrived.setdefault(str(m["message_id"]), asyncio.Event())
        await asyncio.wait_for(event.wait(), timeout=120)

    async def story(self, case: Case, k: int, rng: random.Random) -> None:
        for m in case.messages:
            m["source_system"] = f"{m['source_system']}-{k}"
        ms = case.messages
        await asyncio.sleep(rng.uniform(0.0, 6.0))
        for m in ms[:3]:  # riverside: register, consent, refer, without waiting
            await self.publish(m)
            await asyncio.sleep(rng.uniform(0.0, 0.3))
        await self.stored(ms[2])  # harbor learns of the referral
        for m in ms[3:7]:
            await self.publish(m)
            await asyncio.sleep(rng.uniform(0.0, 0.3))
        await self.stored(ms[6])  # riverside learns it was completed
        await self.publish(ms[7])
        await self.stored(ms[7])


async def lease_holder(js: JetStreamContext, settings: Settings, key: str,
                       wait: float = 0.0) -> str | None:
    """Who holds ``key``; waiting up to ``wait`` seconds for someone to (processes start)."""
    deadline = time.monotonic() + wait
    while True:
        with contextlib.suppress(Exception):
            kv = await js.key_value(leases_bucket(settings))
            return ((await kv.get(key)).value or b"").decode()
        if time.monotonic() >= deadline:
            return None
        await asyncio.sleep(0.1)


@pytest.mark.timeout(300)
@pytest.mark.parametrize("store_kind", ["postgres"])
async def test_three_ingest_partitions_and_two_relays_under_kill_9_lose_and_double_nothing(
    settings: Settings, nats_server: EmbeddedNats, tmp_path: Path, figures: Figures,
) -> None:
    settings = settings.model_copy(update={"partners_file": registry(tmp_path / "p.json")})
    systems = [f"{side}-{k}" for side in ("riverside-ehr", "harbor-cases")
               for k in range(SYSTEMS)]
    assert set(assignment(systems, PARTITIONS).values()) == set(range(PARTITIONS))
    setup = await Runtime(settings, components=()).start()
    await setup.stop()
    work = tmp_path / "components"
    shared = {"CARELOOP_INGEST_PARTITIONS": str(PARTITIONS)}
    ingests = [Component(f"ingest-{i}", settings, work, "ingest", {
        **shared, "CARELOOP_INGEST_PARTITION": str(i), "CARELOOP_INSTANCE_ID": f"ingest-{i}"})
        for i in range(PARTITIONS)]
    relays = {n: Component(n, settings, work, "relay", {**shared, "CARELOOP_INSTANCE_ID": n})
              for n in ("relay-a", "relay-b")}
    others = [Component("projector", settings, work, env=shared)] + [
        Component(n, settings, work, "api", {**shared, "CARELOOP_INSTANCE_ID": n})
        for n in ("api-a", "api-b")]
    everyone = [*ingests, *relays.values(), *others]
    for c in everyone:
        c.start()
    rng = random.Random(SEED)
    cases = [Case() for _ in range(CASES)]
    nc = await nats.connect(settings.nats_url or "")
    js = nc.jetstream()
    partner = Systems(js, settings)
    killed: dict[str, Any] = {}
    started = time.monotonic()

    async def chaos() -> None:
        await asyncio.sleep(2.5)
        for _ in range(2000):  # an ingest partition holding fetched, unacknowledged messages
            for i, name in enumerate(durable_names(shared_settings)):
                with contextlib.suppress(NotFoundError):
                    info = await js.consumer_info(settings.stream_inbound, name)
                    if info.num_ack_pending:
                        killed["ingest"] = i
                        break
            if "ingest" in killed:
                break
            await asyncio.sleep(0.005)
        ingest = ingests[killed.get("ingest", 0)]
        ingest.kill()
        await asyncio.sleep(0.5)
        ingest.start()
        await asyncio.sleep(1.0)
        active = await lease_holder(js, settings, "relay", wait=60)
        assert active in relays, f"no relay holds the lease ({active})"
        relays[active].kill()
        killed["relay"], killed_at = active, time.monotonic()
        for _ in range(300):
            holder = await lease_holder(js, settings, "relay")
            if holder not in (None, active):
                killed["takeover_seconds"] = round(time.monotonic() - killed_at, 1)
                killed["now_active"] = holder
                break
            await asyncio.sleep(0.1)
        relays[active].start()  # back as the standby

    shared_settings = settings.model_copy(update={"ingest_partitions": PARTITIONS})
    try:
        await partner.listen(nc)
        chaos_task = asyncio.create_task(chaos())
        await asyncio.gather(*(partner.story(c, n % SYSTEMS, rng) for n, c in enumerate(cases)))
        await chaos_task
        await wait_until_quiescent(settings, timeout=120)
        for c in everyone:
            assert c.alive(), f"{c.name} died by itself: {c.log_path}"
        answers = [await api_answers(c, settings, cases[0].client_id) for c in others[1:]]
    finally:
        for c in everyone:
            c.stop()
        await nc.close()
    elapsed = time.monotonic() - started

    for case in cases:
        case.receipts = {m["message_id"]: partner.receipts.get(m["message_id"], [])
                         for m in case.messages}
    result = await reconcile(settings, cases)
    on_stream = await stream_event_ids(settings)
    in_store = await asyncio.to_thread(store_event_ids, settings)
    receipts = [r for rs in partner.receipts.values() for r in rs]
    figures("scaled_out[postgres]", {
        "seed": SEED, "messages_sent": result.messages, "receipts": len(receipts),
        "repeated_receipts": len(receipts) - len(partner.receipts),
        "seconds": round(elapsed, 1), **{f"killed_{k}": v for k, v in killed.items()},
        **result.figures()})
    refused = [(r.message_type, r.reason) for r in receipts if r.status != "accepted"]
    assert refused == []  # nothing refused for arriving out of order
    assert "now_active" in killed, "the standby relay never took over"
    assert killed["now_active"] != killed["relay"]
    assert result.problems == []
    assert (result.lost, result.duplicated, result.receipts_disagreeing) == (0, 0, 0)
    assert on_stream == in_store  # every stored event once, in store order
    assert result.stream_events == result.store_events == result.messages
    (health_a, plan_a), (health_b, plan_b) = answers
    assert plan_a == plan_b
    assert plan_a[0] == 200, plan_a
    for health in (health_a, health_b):
        assert health["components"]["relay"]["role"] == "active", health["components"]
        assert health["components"]["api"]["instances"] == 2, health["components"]
        assert {f"ingest-{i}-of-{PARTITIONS}" for i in range(PARTITIONS)} <= set(
            health["components"])
        assert len(health["ingest"]["partitions"]) == PARTITIONS


async def api_answers(api: Component, settings: Settings,
                      client_id: str) -> tuple[dict[str, Any], Any]:
    """This API process's /health (once every component has reported since the kills) and
    one client's care plan as a coordinator sees it."""
    runtime = json.loads((api.data_dir / "runtime.json").read_text())
    async with httpx.AsyncClient(base_url=runtime["http_url"], timeout=10) as http:
        health: dict[str, Any] = {}
        for _ in range(100):
            health = (await http.get("/health")).json()
            components = health.get("components", {})
            if components.get("relay", {}).get("standbys") == 1 and components.get(
                    "api", {}).get("instances") == 2:
                break
            await asyncio.sleep(0.2)
        plan = await http.get(f"/clients/{client_id}/care-plan",
                              headers=bearer(settings.token_secret or ""))
        return health, (plan.status_code, plan.json())


@pytest.mark.timeout(300)
@pytest.mark.parametrize("store_kind", ["postgres"])
async def test_a_frozen_relay_that_wakes_after_losing_its_lease_doubles_nothing(
    settings: Settings, nats_server: EmbeddedNats, tmp_path: Path, figures: Figures,
) -> None:
    """SIGSTOP the active relay (a long pause, its connection still open) until the standby
    has taken over, then SIGCONT it: it may try to publish before it learns it lost the
    lease, and the expected-last-sequence guard must keep the stream exact."""
    setup = await Runtime(settings, components=()).start()
    await setup.stop()
    work = tmp_path / "components"
    relays = {n: Component(n, settings, work, "relay", {"CARELOOP_INSTANCE_ID": n})
              for n in ("relay-a", "relay-b")}
    everyone = [Component("ingest", settings, work), Component("projector", settings, work),
                *relays.values()]
    for c in everyone:
        c.start()
    load = Load(settings.nats_url or "", settings.stream_inbound, [Case() for _ in range(40)])
    nc = await nats.connect(settings.nats_url or "")
    js = nc.jetstream()
    frozen: dict[str, Any] = {}

    async def freeze() -> None:
        await asyncio.sleep(2.0)
        active = await lease_holder(js, settings, "relay", wait=60)
        assert active in relays, f"no relay holds the lease ({active})"
        process = relays[active].process
        assert process is not None
        os.kill(process.pid, signal.SIGSTOP)
        frozen["relay"], at = active, time.monotonic()
        try:
            for _ in range(300):
                if (await lease_holder(js, settings, "relay")) not in (None, active):
                    frozen["takeover_seconds"] = round(time.monotonic() - at, 1)
                    break
                await asyncio.sleep(0.1)
            await asyncio.sleep(1.0)  # the new holder publishes meanwhile
        finally:
            os.kill(process.pid, signal.SIGCONT)

    try:
        freezing = asyncio.create_task(freeze())
        await load.run()
        await freezing
        await wait_until_quiescent(settings, timeout=120)
        for c in everyone:
            assert c.alive(), f"{c.name} died by itself: {c.log_path}"
        holder = await lease_holder(js, settings, "relay")
    finally:
        for c in everyone:
            c.stop()
        await nc.close()
    result = await reconcile(settings, load.cases)
    on_stream = await stream_event_ids(settings)
    in_store = await asyncio.to_thread(store_event_ids, settings)
    figures("frozen_relay[postgres]", {"messages_sent": load.messages, **frozen,
                                       **result.figures()})
    assert "takeover_seconds" in frozen, "the standby never took over from the frozen relay"
    assert holder != frozen["relay"]  # the woken relay did not take its lease back
    assert load.rejected == []
    assert result.problems == []
    assert (result.lost, result.duplicated, result.receipts_disagreeing) == (0, 0, 0)
    assert on_stream == in_store
