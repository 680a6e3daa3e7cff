"""Item 3: GET /clients/{id}/care-plan under concurrent load, over real HTTP.

The client is httpx (async, HTTP/1.1 keep-alive, 64 connections) in this process, the
service runs in its own process. Two phases: an open loop at a fixed rate (requests are
started on schedule whether or not earlier ones finished, so queueing shows in the
latency) and a closed loop of 32 workers for the most requests/s.
"""

from __future__ import annotations

import asyncio
import random
import time
from typing import Any

import httpx

from bench.environment import coordinator_headers
from bench.freshness import percentile


async def _get(http: httpx.AsyncClient, client_ids: list[str], lat: list[float],
               errors: list[int]) -> None:
    cid = random.choice(client_ids)
    t = time.perf_counter()
    try:
        r = await http.get(f"/clients/{cid}/care-plan")
        if r.status_code != 200:
            errors.append(r.status_code)
    except httpx.HTTPError:
        errors.append(0)
    lat.append((time.perf_counter() - t) * 1000)


async def open_loop(base_url: str, client_ids: list[str], rate: int,
                    seconds: float) -> dict[str, Any]:
    lat: list[float] = []
    errors: list[int] = []
    limits = httpx.Limits(max_connections=64, max_keepalive_connections=64)
    async with httpx.AsyncClient(base_url=base_url, headers=coordinator_headers(),
                                 limits=limits, timeout=10) as http:
        tasks: list[asyncio.Task[None]] = []
        start = time.perf_counter()
        n = 0
        while time.perf_counter() - start < seconds:
            delay = start + n / rate - time.perf_counter()
            if delay > 0:
                await asyncio.sleep(delay)
            tasks.append(asyncio.create_task(_get(http, client_ids, lat, errors)))
            n += 1
        await asyncio.gather(*tasks)
        elapsed = time.perf_counter() - start
    return {"offered_rps": rate, "achieved_rps": round(n / elapsed, 1), "requests": n,
            "errors": len(errors), "p50_ms": round(percentile(lat, 50), 2),
            "p99_ms": round(percentile(lat, 99), 2)}


async def closed_loop(base_url: str, client_ids: list[str], workers: int,
                      seconds: float) -> dict[str, Any]:
    lat: list[float] = []
    errors: list[int] = []
    limits = httpx.Limits(max_connections=workers, max_keepalive_connections=workers)
    async with httpx.AsyncClient(base_url=base_url, headers=coordinator_headers(),
                                 limits=limits, timeout=10) as http:
        start = time.perf_counter()

        async def worker() -> None:
            while time.perf_counter() - start < seconds:
                await _get(http, client_ids, lat, errors)

        await asyncio.gather(*(worker() for _ in range(workers)))
        elapsed = time.perf_counter() - start
    return {"workers": workers, "rps": round(len(lat) / elapsed, 1), "requests": len(lat),
            "errors": len(errors), "p50_ms": round(percentile(lat, 50), 2),
            "p99_ms": round(percentile(lat, 99), 2)}
