"""NATS and the database go away mid-load: careloop says so on /health while it lasts,
recovers by itself when they return, and loses and doubles nothing.

The database is a throwaway PostgreSQL cluster of this test's own; the machine's shared
server is never stopped. NATS is the test's own nats-server, restarted on the same port
and storage directory.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import httpx
import pytest

from services.bus.embedded_nats import EmbeddedNats
from services.runtime import Runtime
from services.settings import Settings
from tests.reliability.conftest import Figures
from tests.reliability.reconcile import reconcile, wait_until_quiescent
from tests.reliability.throwaway_postgres import ThrowawayPostgres
from tests.reliability.workload import Case, Load

CASES = 150  # 8 messages each
OUTAGE_SECONDS = 3.0  # each dependency stays away this long once /health has noticed


@pytest.fixture
def own_postgres() -> AsyncIterator[ThrowawayPostgres]:  # type: ignore[misc]
    pg = ThrowawayPostgres().init()
    pg.start()
    yield pg
    pg.destroy()


async def health_until(http: httpx.AsyncClient, wanted: Callable[[dict[str, Any]], bool],
                       what: str, timeout: float = 120.0) -> dict[str, Any]:
    """GET /health until it shows ``what``; the answers seen on the way are discarded."""
    deadline = time.monotonic() + timeout
    last: Any = None
    while time.monotonic() < deadline:
        try:
            r = await http.get("/health", timeout=30)
            last = (r.status_code, r.json())
            if wanted(r.json()):
                return {"status_code": r.status_code, **r.json()}
        except httpx.HTTPError as e:
            last = repr(e)
        await asyncio.sleep(0.2)
    raise AssertionError(f"/health never showed {what}; last answer {last}")


def receipts_so_far(load: Load) -> int:
    return sum(len(c.receipts) for c in load.cases)


async def progress(load: Load, messages: int) -> None:
    while receipts_so_far(load) < messages:
        await asyncio.sleep(0.1)


@pytest.mark.timeout(600)
@pytest.mark.parametrize("store_kind", ["postgres"])
async def test_nats_and_database_restarts_mid_load_are_survived_and_shown_on_health(
    base_settings: Settings, own_postgres: ThrowawayPostgres, tmp_path: Path, figures: Figures,
) -> None:
    nats_server = EmbeddedNats(tmp_path / "nats").start()
    settings = base_settings.model_copy(update={
        "nats_url": nats_server.url, "postgres_port": own_postgres.port,
        "postgres_dbname": "postgres", "postgres_schema": "careloop",
    })
    runtime = await Runtime(settings).start()
    load = Load(settings.nats_url or "", settings.stream_inbound, [Case() for _ in range(CASES)])
    seen: dict[str, Any] = {}
    started = time.monotonic()
    load_task = asyncio.create_task(load.run())
    try:
        async with httpx.AsyncClient(base_url=runtime.http_url or "") as http:
            await health_until(http, lambda h: h["status"] == "ok", "ok at the start")

            await progress(load, 300)
            nats_server.kill()
            down = await health_until(http, lambda h: not h["nats"]["connected"], "NATS away")
            seen["nats_down"] = (down["status_code"], down["status"])
            await asyncio.sleep(OUTAGE_SECONDS)  # partners' publishes fail meanwhile
            nats_server.start()  # same port, same JetStream storage
            await health_until(http, lambda h: h["status"] == "ok", "recovery from NATS")

            await progress(load, 700)
            own_postgres.stop("immediate")
            down = await health_until(http, lambda h: h["store"].get("ok") is False,
                                      "the store away")
            seen["store_down"] = (down["status_code"], down["status"], down["store"]["error"])
            await asyncio.sleep(OUTAGE_SECONDS)  # ingest and projector keep failing meanwhile
            own_postgres.start()
            await health_until(http, lambda h: h["status"] == "ok", "recovery from PostgreSQL")

            await load_task
            await wait_until_quiescent(settings)
            final = await health_until(
                http, lambda h: h["projection"].get("lag") == 0 and h["relay"].get("lag") == 0,
                "zero lag once caught up")
        result = await reconcile(settings, load.cases)
    finally:
        if not load_task.done():
            load_task.cancel()
        await runtime.stop()
        nats_server.stop()
    figures("dependency_faults", {
        "messages_sent": load.messages, "publishes": load.attempts,
        "partner_resends": load.resends, "nats_restarts": 1, "database_restarts": 1,
        "outage_seconds_each": OUTAGE_SECONDS,
        "health_while_nats_down": seen["nats_down"][1],
        "health_while_store_down": seen["store_down"][1],
        "seconds": round(time.monotonic() - started, 1), **result.figures(),
    })
    assert seen["nats_down"] == (503, "degraded")
    assert seen["store_down"][:2] == (503, "degraded")
    assert final["status"] == "ok"
    assert load.rejected == [], [r.summary for r in load.rejected[:5]]
    assert result.problems == []
    assert (result.lost, result.duplicated, result.receipts_disagreeing) == (0, 0, 0)
    assert result.stream_events == result.store_events == load.messages
