"""Projections cannot stall silently: an event a view cannot take is set aside with its
reason, logged as an alert and shown on /health, and every later event still reaches the
views (before, one such event froze every view for ever while /health said ``ok``)."""

from __future__ import annotations

import asyncio
import json
import uuid
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import nats

from contracts.v1.catalogue import MESSAGE_TYPES
from projections import care_plan
from services.bus.streams import EVENTS_ROOT, ensure_streams
from services.commands.registry import execute
from services.projector.consumer import Projection, Projector
from services.projector.quarantine import open_quarantine
from services.runtime import Runtime
from services.settings import Settings
from services.store.view_stores import open_view_store
from tests.helpers import message
from tests.inbound_partner import Partner


async def until(condition: Callable[[], Any], timeout: float = 60.0) -> Any:
    for _ in range(int(timeout / 0.05)):
        found = await asyncio.to_thread(condition)
        if found:
            return found
        await asyncio.sleep(0.05)
    raise AssertionError("condition never became true")


async def test_a_nul_in_a_stored_event_never_freezes_the_views(
    runtime: Runtime, partner: Partner,
) -> None:
    """The contract refuses NUL now; an event stored before (or by a bug) must still not
    stop the projector. PostgreSQL cannot hold it: quarantined. SQLite can: projected."""
    assert runtime.app is not None and runtime.views is not None
    app, views = runtime.app, runtime.views
    poisoned, later = str(uuid.uuid4()), str(uuid.uuid4())
    doc = message("client.registered", client_id=poisoned)
    doc["payload"]["given_name"] = "Jo\u0000rdan"  # past the contract, straight to the domain
    await asyncio.to_thread(execute, app, MESSAGE_TYPES["client.registered"].model_validate(doc))
    receipt = await partner.receipt(await partner.publish(
        message("client.registered", client_id=later)))
    assert receipt.status == "accepted"

    await until(lambda: views.get(care_plan.VIEW, later))  # the views went on
    health = await runtime.health()
    if views.get(care_plan.VIEW, poisoned) is None:  # the view store could not hold it
        assert health.status == "degraded"
        assert health.quarantine["recent"] == 1
        (entry,) = health.quarantine["latest"]
        assert (entry["event_type"], entry["error"]) == (
            "client.registered", "UntranslatableCharacter")
        assert any("quarantined" in p for p in health.problems)
    else:  # it could (SQLite; a view store that escapes NUL): nothing set aside
        assert health.quarantine["recent"] == 0


def _apply(doc: dict[str, Any] | None, event: dict[str, Any], key: str) -> dict[str, Any]:
    if event.get("poison"):
        raise KeyError("a shape this view does not expect")
    return {"n": (doc or {}).get("n", 0) + 1}


def _keys(event: dict[str, Any]) -> list[str]:
    return [str(event["key"])]


async def test_the_projector_quarantines_the_one_event_and_applies_the_rest_of_its_batch(
    settings: Settings,
) -> None:
    nc = await nats.connect(settings.nats_url or "")
    js = nc.jetstream()
    await ensure_streams(js, settings)
    events = [{"event_type": "x.happened", "position": i, "key": f"k{i % 3}",
               "poison": i == 4} for i in range(1, 10)]
    for e in events:  # one fetched batch
        await js.publish(f"{EVENTS_ROOT}.x.happened", json.dumps(e).encode(),
                         stream=settings.stream_events)
    views = open_view_store(settings)
    quarantine = open_quarantine(settings, views)
    projection = Projection("test_v1", "test", _apply, _keys)
    projector = Projector(js, views, settings.stream_events, settings.consumer_prefix,
                          projection, quarantine=quarantine)
    stop = asyncio.Event()
    task = asyncio.create_task(projector.run(stop))
    try:
        await until(lambda: views.position("test_v1").stream_seq == len(events))
    finally:
        stop.set()
        await task
        await nc.close()
    try:
        counts = {k: (views.get("test", k) or {}).get("n") for k in ("k0", "k1", "k2")}
        assert counts == {"k0": 3, "k1": 2, "k2": 3}  # 8 applied, event 4 (k1) set aside
        total, found = quarantine.since(datetime.now(UTC) - timedelta(minutes=5))
        assert total == 1 and found[0].stream_seq == 4 and found[0].error == "KeyError"
        assert projector.quarantined == 1
    finally:
        views.close()
        quarantine.close()
