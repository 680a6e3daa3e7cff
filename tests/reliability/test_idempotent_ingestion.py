"""The same message_id from the same system creates its events once, however late it comes
back: the message ledger remembers it for good, so nothing depends on JetStream's
de-duplication window (two minutes on careloop's streams)."""

from __future__ import annotations

import asyncio
import uuid
from pathlib import Path

from services.bus.embedded_nats import EmbeddedNats
from services.partners.client import PartnerClient
from services.runtime import Runtime
from services.settings import Settings
from tests.helpers import message
from tests.reliability.conftest import Figures


async def post_once(settings: Settings, source: str, m: dict[str, object]):  # type: ignore[no-untyped-def]
    client = await PartnerClient.connect(settings.nats_url or "", source, settings.stream_inbound)
    try:
        return await client.post(m)  # type: ignore[arg-type]
    finally:
        await client.close()


async def test_a_message_resent_two_days_later_gets_the_same_receipt_and_stores_nothing(
    base_settings: Settings, tmp_path: Path, figures: Figures,
) -> None:
    registration = message("client.registered")
    day_one = EmbeddedNats(tmp_path / "nats-day-one").start()
    settings = base_settings.model_copy(update={"nats_url": day_one.url})
    runtime = await Runtime(settings).start()
    try:
        first = await post_once(settings, "riverside-ehr", registration)
        again = await post_once(settings, "riverside-ehr", registration)
        head = await asyncio.to_thread(runtime.app.head_position)  # type: ignore[union-attr]
    finally:
        await runtime.stop()
        day_one.stop()
    assert first.status == "accepted" and not first.duplicate and len(first.event_ids) == 1
    assert (again.duplicate, again.event_ids) == (True, first.event_ids)

    # Two days later: a new NATS server with empty storage, so JetStream remembers nothing
    # (no stream, no de-duplication window); only careloop's store is the same.
    day_three = EmbeddedNats(tmp_path / "nats-day-three").start()
    settings = base_settings.model_copy(update={"nats_url": day_three.url})
    runtime = await Runtime(settings).start()
    try:
        late = await post_once(settings, "riverside-ehr", registration)
        edited = {**registration, "payload": {**registration["payload"], "family_name": "Other"}}
        resent_edited = await post_once(settings, "riverside-ehr", edited)
        assert await asyncio.to_thread(runtime.app.head_position) == head  # type: ignore[union-attr]
    finally:
        await runtime.stop()
        day_three.stop()
    assert (late.status, late.duplicate, late.event_ids) == ("accepted", True, first.event_ids)
    assert late.message_id == first.message_id and late.correlation_id == first.correlation_id
    # A resend is matched by its id alone: an edited body under an old id changes nothing.
    assert (resent_edited.duplicate, resent_edited.event_ids) == (True, first.event_ids)
    figures(f"idempotency[{base_settings.store}]", {"deliveries_of_one_message": 4, "events_created": 1,
                            "duplicated": 0})


async def test_the_same_message_id_from_two_systems_is_two_messages(
    runtime: Runtime, settings: Settings,
) -> None:
    shared_id = f"msg-{uuid.uuid4()}"
    from_ehr = message("client.registered")
    from_housing = message("client.registered", client_id=uuid.uuid4())
    from_housing.update(source_system="harbor-cases",
                        actor={"id": "ha-207", "role": "housing-advocate",
                               "organisation": "harbor-housing"})
    for m in (from_ehr, from_housing):
        m["message_id"] = shared_id
    ehr = await post_once(settings, "riverside-ehr", from_ehr)
    housing = await post_once(settings, "harbor-cases", from_housing)
    assert (ehr.status, housing.status) == ("accepted", "accepted"), housing.summary
    assert not ehr.duplicate and not housing.duplicate
    assert set(ehr.event_ids).isdisjoint(housing.event_ids)
    assert await asyncio.to_thread(runtime.app.head_position) == 4  # type: ignore[attr-defined]
