"""Item 3: GET /clients/{id}/care-plan under concurrent load, over real HTTP.

The load comes from this process over 64 keep-alive connections (``bench.http_client``, a
minimal asyncio HTTP/1.1 client; httpx spent more CPU than the service); the service runs
in its own processes. Two phases: an open loop at a fixed rate (requests start on schedule
whether or not earlier ones finished, so queueing shows in the latency; a request waits for
a free connection) and a closed loop of 32 connections for the most requests/s.
"""

from __future__ import annotations

import asyncio
import random
import time
from typing import Any

from bench.environment import coordinator_headers
from bench.freshness import percentile
from bench.http_client import Connection


class Load:
    def __init__(self, base_url: str, client_ids: list[str], connections: int) -> None:
        self.base_url, self.client_ids, self.size = base_url, client_ids, connections
        self.pool: asyncio.Queue[Connection] = asyncio.Queue()
        self.latencies: list[float] = []
        self.errors = 0

    async def __aenter__(self) -> Load:
        for _ in range(self.size):
            self.pool.put_nowait(await Connection.open(self.base_url, coordinator_headers()))
        return self

    async def __aexit__(self, *exc: object) -> None:
        while not self.pool.empty():
            await self.pool.get_nowait().close()

    async def one(self, started: float | None = None) -> None:
        """One request; latency counts from ``started`` (its scheduled time) if given."""
        t = started if started is not None else time.perf_counter()
        conn = await self.pool.get()
        try:
            status = await conn.get(f"/clients/{random.choice(self.client_ids)}/care-plan")
            if status != 200:
                self.errors += 1
        except (OSError, ValueError, asyncio.IncompleteReadError):
            self.errors += 1
            conn = await Connection.open(self.base_url, coordinator_headers())
        finally:
            self.pool.put_nowait(conn)
        self.latencies.append((time.perf_counter() - t) * 1000)


async def open_loop(base_url: str, client_ids: list[str], rate: int,
                    seconds: float) -> dict[str, Any]:
    async with Load(base_url, client_ids, 64) as load:
        tasks: list[asyncio.Task[None]] = []
        start = time.perf_counter()
        n = 0
        while time.perf_counter() - start < seconds:
            due = start + n / rate
            delay = due - time.perf_counter()
            if delay > 0:
                await asyncio.sleep(delay)
            tasks.append(asyncio.create_task(load.one(due)))
            n += 1
        await asyncio.gather(*tasks)
        elapsed = time.perf_counter() - start
    lat = load.latencies
    return {"offered_rps": rate, "achieved_rps": round(n / elapsed, 1), "requests": n,
            "errors": load.errors, "p50_ms": round(percentile(lat, 50), 2),
            "p99_ms": round(percentile(lat, 99), 2), "connections": 64}


async def closed_loop(base_url: str, client_ids: list[str], connections: int,
                      seconds: float) -> dict[str, Any]:
    async with Load(base_url, client_ids, connections) as load:
        start = time.perf_counter()

        async def worker() -> None:
            while time.perf_counter() - start < seconds:
                await load.one()

        await asyncio.gather(*(worker() for _ in range(connections)))
        elapsed = time.perf_counter() - start
    lat = load.latencies
    return {"connections": connections, "rps": round(len(lat) / elapsed, 1),
            "requests": len(lat), "errors": load.errors,
            "p50_ms": round(percentile(lat, 50), 2), "p99_ms": round(percentile(lat, 99), 2)}


async def sample(base_url: str, client_ids: list[str]) -> bytes:
    """One care-plan document exactly as careloop serves it to the load's coordinator."""
    conn = await Connection.open(base_url, coordinator_headers())
    try:
        status, body = await conn.fetch(f"/clients/{client_ids[0]}/care-plan")
    finally:
        await conn.close()
    if status != 200:
        raise RuntimeError(f"the care-plan endpoint answered {status}")
    return body
