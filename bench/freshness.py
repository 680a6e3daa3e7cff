"""Item 2: from publish to visible in the care-plan view, at a steady command rate.

careloop runs as ``careloop serve`` in its own process. This process publishes client
stories (register, consent, refer, accept) at a fixed rate, like a partner system, and
watches the care-plan view in PostgreSQL (the documents the HTTP API serves) for each
story's last fact: the referral accepted. Freshness is the time from sending that publish
to the first poll (every 2 ms) that sees it.
"""

from __future__ import annotations

import asyncio
import json
import time
import uuid
from typing import Any

import nats
import psycopg
from psycopg.rows import tuple_row

from bench.environment import PG, ServiceProcess
from bench.traffic import client_story, subject_of
from projections import care_plan
from services.bus.connection import server_list
from services.bus.jetstream_pipeline import PipelinedPublisher
from services.settings import Settings
from services.store.view_stores import view_seal

POLL_SECONDS = 0.002


def percentile(values: list[float], p: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(p / 100 * (len(ordered) - 1)))]


async def measure(settings: Settings, rate: int, seconds: float) -> dict[str, Any]:
    """Publish ``rate`` commands/s for ``seconds``; the service must already be running."""
    nc = await nats.connect(server_list(settings.nats_url))
    pipe = PipelinedPublisher(nc)
    sent_at: dict[str, tuple[str, float]] = {}  # client id → (referral id, publish time)
    seen: dict[str, float] = {}
    acks: list[asyncio.Future[Any]] = []
    done = asyncio.Event()

    seal = view_seal(settings)

    async def watch() -> None:
        conninfo = psycopg.conninfo.make_conninfo(
            host=PG["postgres_host"], port=PG["postgres_port"], dbname=PG["postgres_dbname"],
            user=PG["postgres_user"], options=f"-c search_path={settings.postgres_schema}")
        async with await psycopg.AsyncConnection.connect(conninfo, autocommit=True,
                                                          row_factory=tuple_row) as conn:
            while not (done.is_set() and len(seen) == len(sent_at)):
                pending = [c for c in sent_at if c not in seen]
                if pending:
                    rows = await (await conn.execute(
                        "SELECT key, doc FROM view_documents "
                        "WHERE view=%s AND key = ANY(%s)", (care_plan.VIEW, pending))).fetchall()
                    now = time.perf_counter()
                    for key, doc in rows:  # sealed at rest: opened with careloop's key
                        referrals = seal.open(doc).get("referrals")
                        rid = sent_at[key][0]
                        if (referrals or {}).get(rid, {}).get("status") == "accepted":
                            seen[key] = now
                await asyncio.sleep(POLL_SECONDS)

    watcher = asyncio.create_task(watch())
    stories = 0
    interval = 4 / rate  # one four-command story per interval
    start = time.perf_counter()
    while time.perf_counter() - start < seconds:
        due = start + stories * interval
        delay = due - time.perf_counter()
        if delay > 0:
            await asyncio.sleep(delay)
        cid = uuid.uuid4()
        story = client_story(cid)
        for m in story:
            acks.append(await pipe.publish(subject_of(m), json.dumps(m).encode(),
                                           settings.stream_inbound, {}))
        sent_at[str(cid)] = (story[-1]["payload"]["referral_id"], time.perf_counter())
        stories += 1
    sending = time.perf_counter() - start
    await asyncio.gather(*acks)
    done.set()
    try:
        await asyncio.wait_for(watcher, timeout=120)
    finally:
        await pipe.close()
        await nc.close()
    lags = [(seen[c] - t) * 1000 for c, (_, t) in sent_at.items()]
    return {"commands": stories * 4, "offered_cmds_per_s": round(stories * 4 / sending, 1),
            "samples": len(lags), "p50_ms": round(percentile(lags, 50), 1),
            "p99_ms": round(percentile(lags, 99), 1), "max_ms": round(max(lags), 1),
            "client_ids": list(sent_at)}


async def run(settings: Settings, rate: int, seconds: float) -> tuple[dict[str, Any], ServiceProcess]:
    service = await asyncio.to_thread(ServiceProcess(settings).start)
    await asyncio.sleep(1.0)  # consumers subscribed
    cpu = service.cpu_seconds()
    measured = await measure(settings, rate, seconds)
    measured["cpu_us_per_command"] = service.cpu_per_command(cpu, measured["commands"])
    return measured, service
