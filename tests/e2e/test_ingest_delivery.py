"""At-least-once in, exactly-once effects: how ingest settles every JetStream delivery.

A message is acknowledged only after its events are committed; transient trouble is
retried; a poison message ends, after a bounded number of deliveries, in the dead-letter
stream with a receipt telling the sender; a batch answers each of its messages exactly.
"""

from __future__ import annotations

import json
import uuid
from typing import Any

import pytest
from eventsourcing.domain import Aggregate
from eventsourcing.persistence import OperationalError

from services.bus.streams import inbound_subject
from services.commands import batch
from services.commands import registry as inbound_commands
from services.runtime import Runtime
from services.settings import Settings
from tests.helpers import message
from tests.inbound_partner import Partner, ingest_consumer, stored_events, until, until_acked


@pytest.fixture
def settings(settings: Settings) -> Settings:
    return settings.model_copy(update={"ingest_max_deliver": 3})


async def test_ack_only_after_commit_and_a_transient_failure_is_retried_until_applied_once(
    runtime: Runtime, partner: Partner, monkeypatch: pytest.MonkeyPatch,
) -> None:
    assert runtime.app is not None
    real_write, attempts, database_down = batch.write_events, [], [True]

    def write(app: Any, events: Any) -> Any:  # the batch's one write to the store
        attempts.append(len(events))
        if database_down[0]:
            raise OperationalError("the database is restarting")
        return real_write(app, events)

    monkeypatch.setattr(batch, "write_events", write)
    seq = await partner.publish(message("client.registered"))

    await until(lambda: len(attempts) >= 2)  # delivered, refused by the store, delivered again
    consumer = await ingest_consumer(partner)
    assert consumer.ack_floor.stream_seq == 0  # never acknowledged while not committed
    assert seq not in partner.receipts
    assert await stored_events(runtime) == 0

    database_down[0] = False
    receipt = await partner.receipt(seq)
    assert receipt.status == "accepted" and not receipt.duplicate
    assert len(attempts) >= 3  # committed on a redelivery
    assert await stored_events(runtime) == 2  # one ledger entry, one event: applied once
    await until_acked(partner, seq)


async def test_a_poison_message_goes_to_the_dead_letter_stream_with_its_reason_after_n_deliveries(
    runtime: Runtime, partner: Partner, monkeypatch: pytest.MonkeyPatch,
) -> None:
    def boom(app: Any, m: Any, p: Any) -> list[Aggregate]:
        raise RuntimeError("cannot handle this contact update")

    monkeypatch.setitem(inbound_commands.HANDLERS, "client.contact_updated", boom)
    await partner.receipt(await partner.publish(message("client.registered")))
    poison = message("client.contact_updated")
    seq = await partner.publish(poison)

    receipt = await partner.receipt(seq)
    assert (receipt.status, receipt.reason) == ("rejected", "internal_error")
    assert receipt.message_id == poison["message_id"]
    assert "dead-letter" in receipt.summary

    s = partner.settings
    info = await partner.js.stream_info(s.stream_deadletter)
    assert info.state.messages == 1
    dead = await partner.js.get_msg(s.stream_deadletter, seq=info.state.last_seq)
    assert json.loads(dead.data or b"") == poison  # the original bytes
    headers = dead.headers or {}
    assert headers["Careloop-Original-Subject"] == inbound_subject(
        "riverside-ehr", "client.contact_updated")
    assert headers["Careloop-Deliveries"] == str(s.ingest_max_deliver)
    assert "cannot handle this contact update" in headers["Careloop-Reason"]
    await until_acked(partner, seq)  # terminated: not redelivered again


async def test_a_batch_with_one_bad_message_accepts_the_others_with_exact_receipts(
    settings: Settings, partner: Partner,
) -> None:
    cid, rid = str(uuid.uuid4()), str(uuid.uuid4())
    registered = message("client.registered", client_id=cid)
    sent = [
        registered,
        message("consent.recorded", client_id=cid),
        b'{"schema_version": 1, "message_id": "m-1"',
        message("referral.completed", referral_id=str(uuid.uuid4())),
        message("referral.made", client_id=cid, referral_id=rid),
        message("referral.accepted", referral_id=rid),
        registered,  # delivered twice within one batch
    ]
    # Published while careloop is down, so the first fetch takes them all as one batch.
    seqs = [await partner.publish(m, "referral.made" if isinstance(m, bytes) else "")
            for m in sent]
    # Ingest alone: its first fetch takes what is there within a few milliseconds, which
    # other components starting beside it on a busy machine could make it miss.
    runtime = await Runtime(settings, components=("ingest",)).start()
    try:
        got = await partner.receipts_for(seqs)
        assert runtime.ingest is not None and runtime.ingest.batches == 1
        assert [(r.status, r.reason) for r in got] == [
            ("accepted", None), ("accepted", None), ("rejected", "invalid_json"),
            ("rejected", "referral_not_found"), ("accepted", None), ("accepted", None),
            ("accepted", None)]
        assert [r.message_id for r in got] == [
            m["message_id"] if isinstance(m, dict) else None for m in sent]
        assert got[6].duplicate and got[6].event_ids == got[0].event_ids
        accepted = [i for r in got[:6] for i in r.event_ids]
        assert len(accepted) == len(set(accepted)) >= 4
        assert await stored_events(runtime) == 4 + len(accepted)  # four ledger entries
        await until_acked(partner, seqs[-1])
    finally:
        await runtime.stop()
