"""/health tells the truth: degraded within seconds when a backlog stops moving, a worker
process dies, an inbound message is dead-lettered, an event is quarantined or a stored row
is tampered with; and each cause is named in ``problems``."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
import pytest
from eventsourcing.domain import Aggregate

from contracts.v1.catalogue import MESSAGE_TYPES
from services.commands import registry as inbound_commands
from services.commands.registry import execute
from services.runtime import Runtime
from services.settings import Settings
from tests.audit_support import RawStore
from tests.helpers import bearer, message
from tests.inbound_partner import Partner
from tests.reliability.components import Component


@pytest.fixture
def settings(settings: Settings) -> Settings:
    return settings.model_copy(update={"health_stall_seconds": 2.0, "hash_chain_seconds": 0.2,
                                       "hash_chain_verify_seconds": 0.5})


async def health_until(runtime: Runtime, wanted: Callable[[dict[str, Any]], bool],
                       timeout: float = 60.0) -> dict[str, Any]:
    """GET /health until ``wanted``; the last answer otherwise fails the test."""
    last: dict[str, Any] = {}
    async with httpx.AsyncClient(base_url=runtime.http_url or "") as http:
        for _ in range(int(timeout / 0.2)):
            r = await http.get("/health", timeout=30)
            last = r.json()
            if wanted(last):
                assert r.status_code == (200 if last["status"] == "ok" else 503)
                return last
            await asyncio.sleep(0.2)
    raise AssertionError(f"/health never showed it; last answer {last}")


def mentions(text: str) -> Callable[[dict[str, Any]], bool]:
    return lambda h: h["status"] == "degraded" and any(text in p for p in h["problems"])


async def test_a_projection_that_stops_moving_turns_health_degraded(
    settings: Settings, partner: Partner,
) -> None:
    runtime = await Runtime(settings, components=("ingest", "relay", "api")).start()
    try:
        await health_until(runtime, lambda h: h["status"] == "ok")
        await partner.receipt(await partner.publish(message("client.registered")))
        found = await health_until(runtime, mentions("projection has not moved"))
        assert found["projection"]["stalled"] is True and found["projection"]["lag"] > 0
    finally:
        await runtime.stop()


async def test_a_dead_worker_process_turns_health_degraded(
    settings: Settings, tmp_path: Path,
) -> None:
    runtime = await Runtime(settings, components=("ingest", "api")).start()
    relay = Component("relay", settings, tmp_path / "components")
    relay.start()
    try:
        await health_until(runtime, lambda h: h["status"] == "ok" and "relay" in h["components"])
        relay.kill()
        found = await health_until(runtime, mentions("relay has not reported"))
        assert found["components"]["relay"]["status"] == "degraded"
    finally:
        relay.stop()
        await runtime.stop()


async def test_a_dead_lettered_message_turns_health_degraded(
    runtime: Runtime, partner: Partner, monkeypatch: pytest.MonkeyPatch,
) -> None:
    def boom(app: Any, m: Any, p: Any) -> list[Aggregate]:
        raise RuntimeError("cannot handle this")

    monkeypatch.setitem(inbound_commands.HANDLERS, "client.registered", boom)
    await health_until(runtime, lambda h: h["status"] == "ok")
    receipt = await partner.receipt(await partner.publish(message("client.registered")))
    assert receipt.reason == "internal_error"
    found = await health_until(runtime, mentions("dead-lettered recently"))
    assert found["dead_letters"]["total"] == 1


async def test_a_tampered_row_turns_health_degraded_and_is_named(runtime: Runtime) -> None:
    assert runtime.app is not None
    app = runtime.app
    doc = message("client.registered", client_id=str(uuid.uuid4()))
    await asyncio.to_thread(execute, app, MESSAGE_TYPES["client.registered"].model_validate(doc))
    await health_until(runtime, lambda h: h["status"] == "ok" and h["integrity"].get("checked"))
    raw = RawStore(runtime.settings, app.recorder.events_table_name)
    try:
        raw.alter(2, b"Jordan", b"Jordon")
    finally:
        raw.close()
    found = await health_until(runtime, mentions("tamper evidence"))
    finding = found["integrity"]["finding"]
    assert (finding["position"], finding["kind"]) == (2, "altered")
    auditor = bearer(runtime.token_secret or "", "au-1", "auditor", "riverside-cmhc")
    async with httpx.AsyncClient(base_url=runtime.http_url or "") as http:
        timeline = await http.get(f"/audit/clients/{doc['payload']['client_id']}/timeline",
                                  headers=auditor)
        verify = await http.get("/audit/verify", headers=auditor)
    assert timeline.status_code == 503 and timeline.json()["tampered"]["position"] == 2
    assert verify.status_code == 200 and verify.json()["finding"]["position"] == 2


async def test_a_forged_row_appended_after_the_head_turns_health_degraded(
    runtime: Runtime,
) -> None:
    assert runtime.app is not None
    app = runtime.app
    doc = message("client.registered", client_id=str(uuid.uuid4()))
    await asyncio.to_thread(execute, app, MESSAGE_TYPES["client.registered"].model_validate(doc))
    await health_until(runtime, lambda h: h["status"] == "ok" and h["integrity"].get("checked"))
    raw = RawStore(runtime.settings, app.recorder.events_table_name)
    try:
        raw.forge(copy_of=2)
    finally:
        raw.close()
    found = await health_until(runtime, mentions("tamper evidence"))
    finding = found["integrity"]["finding"]
    assert (finding["position"], finding["kind"]) == (3, "forged")
