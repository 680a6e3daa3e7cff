"""Any bytes, any JSON, on any inbound subject, through the real ingest over NATS: every
message gets exactly one receipt, nothing is dead-lettered or left unacknowledged, and
careloop goes on accepting good messages with /health ``ok`` afterwards.

The inputs come from hypothesis (a bounded, derandomized sample, so the suite stays fast):
arbitrary bytes, arbitrary JSON values, committed examples with a field replaced by
arbitrary JSON, and the inputs that break naive parsers (deep nesting, huge numbers,
duplicate keys, NUL, lone surrogates)."""

from __future__ import annotations

import asyncio
import json
from collections import Counter
from typing import Any

from hypothesis import Phase, given, settings
from hypothesis import strategies as st
from nats.aio.msg import Msg

from contracts.v1.catalogue import MESSAGE_TYPES
from contracts.v1.receipts import Receipt
from services.bus.streams import receipts_subject
from services.runtime import Runtime
from tests.helpers import example, message
from tests.inbound_partner import Partner, ingest_consumer, until
from tests.reliability.conftest import Figures
from tests.reliability.malformed import paths

SAMPLE = 200

JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=30),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner,
                                                                max_size=4),
    max_leaves=12)
SUBJECT_TYPES = st.sampled_from(sorted(MESSAGE_TYPES)) | st.from_regex(
    r"\A[a-z_]{1,10}(\.[a-z_]{1,10})?\Z")
HOSTILE = st.sampled_from([
    b"[" * 40_000 + b"]" * 40_000, b'{"a": ' + b"9" * 5000 + b"}", b'{"a": 1, "a": 2}',
    b'{"a": "\\u0000"}', b'{"a": "\\ud800"}', b"NaN", b'{"a": 1e999}', b"\xff\xfe", b"",
])


@st.composite
def example_with_a_field_replaced(draw: st.DrawFn) -> tuple[str, bytes]:
    message_type = draw(st.sampled_from(sorted(MESSAGE_TYPES)))
    doc = example(message_type)
    path = draw(st.sampled_from(paths(doc)))
    target: Any = doc
    *head, last = path.split(".")
    for part in head:
        target = target[int(part)] if isinstance(target, list) else target[part]
    target[int(last) if isinstance(target, list) else last] = draw(JSON)
    return message_type, json.dumps(doc).encode()


INPUTS = st.one_of(
    st.tuples(SUBJECT_TYPES, st.binary(max_size=300)),
    st.tuples(SUBJECT_TYPES, JSON.map(lambda v: json.dumps(v).encode())),
    example_with_a_field_replaced(),
    st.tuples(SUBJECT_TYPES, HOSTILE),
)


def sample(n: int) -> list[tuple[str, bytes]]:
    found: list[tuple[str, bytes]] = []

    @settings(max_examples=n, database=None, derandomize=True, phases=[Phase.generate],
              deadline=None)
    @given(case=INPUTS)
    def collect(case: tuple[str, bytes]) -> None:
        found.append(case)

    collect()
    return found[:n]


async def test_any_input_gets_exactly_one_receipt_and_careloop_keeps_serving(
    runtime: Runtime, partner: Partner, figures: Figures,
) -> None:
    cases = sample(SAMPLE)
    counted: Counter[int] = Counter()

    async def count(msg: Msg) -> None:
        seq = Receipt.model_validate_json(msg.data).inbound_sequence
        if seq is not None:
            counted[seq] += 1

    await partner.nc.subscribe(receipts_subject("riverside-ehr"), cb=count)
    seqs = [await partner.publish(body, message_type) for message_type, body in cases]
    got = await partner.receipts_for(seqs, timeout=120)

    async def settled() -> bool:
        info = await ingest_consumer(partner)
        return info.ack_floor.stream_seq >= seqs[-1] and info.num_ack_pending == 0

    for _ in range(600):
        if await settled():
            break
        await asyncio.sleep(0.1)
    assert await settled(), "some inbound messages were never acknowledged"
    good = await partner.receipt(await partner.publish(message("client.registered")))
    await until(lambda: len(counted) == len(seqs) + 1)
    health = await runtime.health()
    reasons = Counter(r.reason or r.status for r in got)
    figures(f"ingest_fuzz_over_nats[{runtime.settings.store}]", {
        "messages_sent": len(seqs), "receipts": sum(counted.values()), **reasons})
    assert [seq for seq in seqs if counted[seq] != 1] == []  # exactly one receipt each
    assert "internal_error" not in reasons  # every answer is specific
    assert good.status == "accepted"
    assert health.status == "ok", health.problems
