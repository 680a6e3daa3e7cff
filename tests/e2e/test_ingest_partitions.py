"""Ingest as several partitions in one test process (each a ``Runtime`` of its own): each
team system is consumed by its partition's process only, a message sent again (as it was,
or edited under its old id) is answered as the duplicate it is by that same partition, and
a second process for a partition waits as a standby and takes over when the first stops."""

from __future__ import annotations

import asyncio
import uuid
from typing import Any

import nats
import pytest

from services.ingest.partitions import assignment, durable_name
from services.partners.client import PartnerClient
from services.runtime import Runtime
from services.settings import Settings
from tests.helpers import message

pytestmark = pytest.mark.parametrize("store_kind", ["postgres"])
N = 3


def registration(source: str) -> dict[str, Any]:
    m = message("client.registered", client_id=uuid.uuid4())
    if source == "harbor-cases":
        m.update(source_system=source, actor={
            "id": "ha-207", "role": "housing-advocate", "organisation": "harbor-housing"})
    return m


async def post(settings: Settings, m: dict[str, Any]) -> Any:
    client = await PartnerClient.connect(settings.nats_url or "", str(m["source_system"]),
                                         settings.stream_inbound)
    try:
        return await client.post(m)
    finally:
        await client.close()


def partition(settings: Settings, i: int, instance: str) -> Settings:
    return settings.model_copy(update={"ingest_partitions": N, "ingest_partition": i,
                                       "instance_id": instance})


async def test_each_system_is_answered_by_its_own_partition_and_a_standby_takes_over(
    settings: Settings,
) -> None:
    owner = assignment(["riverside-ehr", "harbor-cases", "county-cases", "psych-ehr"], N)
    assert owner["riverside-ehr"] != owner["harbor-cases"]
    ehr, harbor = owner["riverside-ehr"], owner["harbor-cases"]
    first = await Runtime(partition(settings, ehr, "ehr-1"), components=("ingest",)).start()
    other = await Runtime(partition(settings, harbor, "harbor"), components=("ingest",)).start()
    standby = await Runtime(partition(settings, ehr, "ehr-2"), components=("ingest",)).start()
    runtimes = [first, other, standby]
    try:
        m = registration("riverside-ehr")
        accepted = await post(settings, m)
        from_harbor = await post(settings, registration("harbor-cases"))
        again = await post(settings, m)
        edited = {**m, "payload": {**m["payload"], "family_name": "Other"}}
        edited_again = await post(settings, edited)
        assert (accepted.status, from_harbor.status) == ("accepted", "accepted")
        assert (again.duplicate, again.event_ids) == (True, accepted.event_ids)
        assert (edited_again.duplicate, edited_again.event_ids) == (True, accepted.event_ids)
        counts = [r.ingest.processed for r in runtimes if r.ingest is not None]
        assert counts == [1, 1, 0]  # the standby consumed nothing

        nc = await nats.connect(settings.nats_url or "")
        try:
            consumers = {c.name: c.config for c in
                         await nc.jetstream().consumers_info(settings.stream_inbound)}
        finally:
            await nc.close()
        expected = {durable_name(partition(settings, i, "")) for i in (ehr, harbor)}
        assert set(consumers) == expected
        ours = consumers[durable_name(partition(settings, ehr, ""))]
        filters = ours.filter_subjects or [ours.filter_subject or ""]
        assert "careloop.in.riverside-ehr.>" in filters
        assert "careloop.in.harbor-cases.>" not in filters

        await first.stop()  # a clean stop hands the lease over at once
        runtimes.remove(first)
        later = await asyncio.wait_for(post(settings, registration("riverside-ehr")), 30)
        assert later.status == "accepted" and not later.duplicate
        assert standby.ingest is not None and standby.ingest.processed == 1
    finally:
        for r in runtimes:
            await r.stop()
