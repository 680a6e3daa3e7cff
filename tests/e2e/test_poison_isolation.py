"""One bad message never holds the others: inputs that break Python's JSON parser, failures
after a commit, receipts the stream refuses. Each message of a batch gets its own answer."""

from __future__ import annotations

import json
import uuid
from typing import Any

import pytest
from nats.errors import MaxPayloadError

from services.bus import jetstream_pipeline
from services.ingest import consumer as ingest_consumer
from services.runtime import Runtime
from services.settings import Settings
from tests.helpers import message
from tests.inbound_partner import Partner, stored_events, until_acked


async def test_parser_breakers_in_a_batch_get_specific_receipts_and_the_valid_ones_are_accepted(
    settings: Settings, partner: Partner,
) -> None:
    cid = str(uuid.uuid4())
    deep = b"[" * 40_000 + b"]" * 40_000  # RecursionError in Python's json
    huge = json.dumps(message("client.registered")).encode().replace(
        b'"payload": {', b'"payload": {"n": ' + b"7" * 5000 + b", ", 1)  # ValueError
    nul = message("client.registered", client_id=str(uuid.uuid4()))
    nul["payload"]["family_name"] = "Ri\u0000vera"  # PostgreSQL text cannot hold it
    valid = [message("client.registered", client_id=cid),
             message("consent.recorded", client_id=cid)]
    valid += [message("client.registered", client_id=str(uuid.uuid4())) for _ in range(17)]
    # Published while careloop is down, so one fetch takes them all as one batch.
    bad = [await partner.publish(deep, "client.registered"),
           await partner.publish(huge, "client.registered"), await partner.publish(nul)]
    good = [await partner.publish(m) for m in valid]
    runtime = await Runtime(settings).start()
    try:
        refused = await partner.receipts_for(bad)
        assert [(r.status, r.reason) for r in refused] == [
            ("rejected", "too_deep"), ("rejected", "number_out_of_range"),
            ("rejected", "unstorable_character")]
        assert [r.problems[0].field for r in refused[1:]] == ["payload.n", "payload.family_name"]
        accepted = await partner.receipts_for(good)
        assert [r.status for r in accepted] == ["accepted"] * len(valid)
        await until_acked(partner, good[-1])
        assert runtime.ingest is not None and runtime.ingest.dead_lettered == 0
    finally:
        await runtime.stop()


async def test_an_unexpected_parser_error_is_that_messages_internal_error_not_the_batchs(
    runtime: Runtime, partner: Partner, monkeypatch: pytest.MonkeyPatch,
) -> None:
    real = ingest_consumer.parse_message

    def fragile(raw: bytes, source: str, message_type: str) -> Any:
        if b"break-the-parser" in raw:
            raise RecursionError("maximum recursion depth exceeded")
        return real(raw, source, message_type)

    monkeypatch.setattr(ingest_consumer, "parse_message", fragile)
    fresh = [message("client.registered", client_id=str(uuid.uuid4())) for _ in range(3)]
    fresh[1]["payload"]["given_name"] = "break-the-parser"
    seqs = [await partner.publish(m) for m in fresh]
    got = await partner.receipts_for(seqs)
    assert [(r.status, r.reason) for r in got] == [
        ("accepted", None), ("rejected", "internal_error"), ("accepted", None)]
    info = await partner.js.stream_info(partner.settings.stream_deadletter)
    assert info.state.messages == 1
    await until_acked(partner, seqs[-1])


async def test_a_message_that_committed_before_failing_is_answered_accepted_not_internal_error(
    runtime: Runtime, partner: Partner, monkeypatch: pytest.MonkeyPatch,
) -> None:
    real = ingest_consumer.apply_batch
    target = message("client.registered")

    def loses_the_answer(app: Any, messages: Any) -> Any:
        results = real(app, messages)  # committed...
        return [RuntimeError("lost the outcome after the commit")
                if m.message_id == target["message_id"] else r
                for m, r in zip(messages, results, strict=True)]

    monkeypatch.setattr(ingest_consumer, "apply_batch", loses_the_answer)
    receipt = await partner.receipt(await partner.publish(target))
    assert (receipt.status, receipt.reason) == ("accepted", None)
    assert len(receipt.event_ids) == 1
    assert "nothing was stored" not in receipt.summary
    assert await stored_events(runtime) == 2  # its ledger entry and its one event, once


async def test_a_receipt_the_stream_refuses_is_replaced_by_a_short_one_and_nothing_is_redone(
    runtime: Runtime, partner: Partner, monkeypatch: pytest.MonkeyPatch,
) -> None:
    target = message("client.registered")
    real = jetstream_pipeline.PipelinedPublisher.publish
    refused: list[bytes] = []

    async def picky(self: Any, subject: str, payload: bytes, stream: str,
                    headers: dict[str, str]) -> Any:
        if target["message_id"].encode() in payload and not refused:
            refused.append(payload)
            raise MaxPayloadError
        return await real(self, subject, payload, stream, headers)

    monkeypatch.setattr(jetstream_pipeline.PipelinedPublisher, "publish", picky)
    seq = await partner.publish(target)
    receipt = await partner.receipt(seq)
    assert (receipt.status, receipt.duplicate) == ("accepted", False)  # applied once
    assert len(refused) == 1
    await until_acked(partner, seq)
    assert await stored_events(runtime) == 2
