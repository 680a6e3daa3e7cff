"""Item 1: commands per second, durable in PostgreSQL and published, careloop vs naive.

The inbound stream is loaded first (a nightly export waiting in JetStream); the clock runs
from starting the consumer until every command is committed, answered and acknowledged and
every event is on the events stream.
"""

from __future__ import annotations

import asyncio
import time
from pathlib import Path
from typing import Any

import nats
from nats.js.errors import NotFoundError

from bench import store_ceiling
from bench.baseline import NaiveIngest
from bench.environment import ServiceProcess, delete_streams, drop_schema, settings_for
from bench.traffic import export, publish_all
from services.bus.connection import server_list
from services.bus.streams import ensure_streams
from services.settings import Settings
from services.store.care_app import create_care_app
from services.store.event_store_config import eventsourcing_env


async def _prepare(settings: Settings, commands: int) -> tuple[Any, list[dict[str, Any]]]:
    await asyncio.to_thread(lambda: create_care_app(eventsourcing_env(settings)).close())
    nc = await nats.connect(server_list(settings.nats_url))
    await ensure_streams(nc.jetstream(), settings)
    messages = export(commands)
    await publish_all(nc, settings.stream_inbound, messages)
    return nc, messages


async def _events_on_stream(js: Any, stream: str) -> int:
    return int((await js.stream_info(stream)).state.messages)


async def careloop(nats_url: str, data_dir: Path, commands: int) -> dict[str, Any]:
    s = settings_for("ingest", nats_url, data_dir)
    nc, messages = await _prepare(s, commands)
    js = nc.jetstream()
    service = ServiceProcess(s, ("ingest", "relay"))
    await asyncio.to_thread(service.start)
    started = None
    try:
        consumer = f"{s.consumer_prefix}-ingest"
        while True:
            try:
                info = await js.consumer_info(s.stream_inbound, consumer)
            except NotFoundError:  # the ingest loop has not subscribed yet
                await asyncio.sleep(0.002)
                continue
            if started is None:
                if info.delivered.stream_seq == 0:
                    await asyncio.sleep(0.002)
                    continue
                started = time.perf_counter()  # the first batch is being delivered
                cpu = service.cpu_seconds()
            if (info.num_pending == 0 and info.num_ack_pending == 0
                    and await _events_on_stream(js, s.stream_events) >= len(messages)):
                break
            await asyncio.sleep(0.005)
        elapsed = time.perf_counter() - started
        cpu_us = service.cpu_per_command(cpu, len(messages))
        receipts = await _events_on_stream(js, s.stream_receipts)
        events = await _events_on_stream(js, s.stream_events)
    finally:
        await asyncio.to_thread(service.stop)
        await nc.close()
        await delete_streams(nats_url, s)
        drop_schema(s.postgres_schema)
    return {"commands": len(messages), "seconds": round(elapsed, 3),
            "cmds_per_s": round(len(messages) / elapsed, 1), "receipts": receipts,
            "events_published": events, "cpu_us_per_command": cpu_us,
            "processes": "careloop serve --component ingest, --component relay",
            "clock": "from the first delivery to the last ack and published event"}


async def baseline(nats_url: str, data_dir: Path, commands: int) -> dict[str, Any]:
    s = settings_for("naive", nats_url, data_dir)
    nc, messages = await _prepare(s, commands)
    app = await asyncio.to_thread(create_care_app, eventsourcing_env(s))
    naive = NaiveIngest(app, nc.jetstream(), s)
    try:
        started = time.perf_counter()
        await naive.run(len(messages))
        elapsed = time.perf_counter() - started
        events = await _events_on_stream(nc.jetstream(), s.stream_events)
    finally:
        await asyncio.to_thread(app.close)
        await nc.close()
        await delete_streams(nats_url, s)
        drop_schema(s.postgres_schema)
    return {"commands": len(messages), "seconds": round(elapsed, 3),
            "cmds_per_s": round(len(messages) / elapsed, 1), "events_published": events}


async def ceiling(nats_url: str, data_dir: Path, commands: int) -> dict[str, Any]:
    """The store ceiling for the same export: its writes alone (``bench.store_ceiling``)."""
    s = settings_for("ceiling", nats_url, data_dir)
    try:
        return await asyncio.to_thread(store_ceiling.measure, s, export(commands))
    finally:
        drop_schema(s.postgres_schema)
