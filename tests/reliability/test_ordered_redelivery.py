"""A killed ingest's in-flight messages come back first, at once and in order.

An ingest that dies holds its fetched messages unacknowledged; JetStream would redeliver
them only after the consumer's ack wait (60 s before this change), and a restarted ingest
would meanwhile apply the client's later messages first (refused for good as
``client_not_registered``). Here a stand-in for the dead process fetches a batch from the
ingest consumer and never acknowledges it, the partner keeps publishing, then careloop
starts: every message must be accepted, in publication order, long before that ack wait.
"""

from __future__ import annotations

import uuid

from nats.js.api import AckPolicy, ConsumerConfig

from services.bus.streams import INBOUND_SUBJECTS, ensure_streams
from services.ingest.ordered_consumer import subscribe_in_order
from services.runtime import Runtime
from services.settings import Settings
from tests.helpers import message
from tests.inbound_partner import Partner

STEPS = ("client.registered", "consent.recorded", "referral.made", "referral.received",
         "referral.accepted")


def case_messages() -> list[dict[str, object]]:
    ids = {"client_id": str(uuid.uuid4()), "referral_id": str(uuid.uuid4()),
           "consent_id": str(uuid.uuid4())}
    out = []
    for step in STEPS:
        m = message(step)
        m["payload"].update({k: v for k, v in ids.items() if k in m["payload"]})
        out.append(m)
    return out


async def test_messages_a_dead_ingest_held_are_applied_first_and_in_order_after_restart(
    settings: Settings, partner: Partner,
) -> None:
    js = partner.js
    await ensure_streams(js, settings)
    cases = [case_messages() for _ in range(6)]
    first_halves = [await partner.publish(m) for c in cases for m in c[:2]]
    # The dying ingest: fetched (delivered) the registrations and consents, never acked.
    # (The consumer as an older careloop made it: a 60 s ack wait.)
    dead = await js.pull_subscribe(
        INBOUND_SUBJECTS, durable=f"{settings.consumer_prefix}-ingest",
        stream=settings.stream_inbound,
        config=ConsumerConfig(ack_policy=AckPolicy.EXPLICIT, ack_wait=60, max_deliver=-1))
    held = await dead.fetch(len(first_halves), timeout=10)
    assert [m.metadata.sequence.stream for m in held] == first_halves
    await dead.unsubscribe()
    later = [await partner.publish(m) for c in cases for m in c[2:]]

    runtime = await Runtime(settings).start()
    try:
        # Far less than the old 60 s ack wait; the current one is 10 s and is not needed.
        got = await partner.receipts_for(first_halves + later, timeout=45)
    finally:
        await runtime.stop()
    assert [(r.status, r.reason) for r in got] == [("accepted", None)] * len(got)


async def test_a_message_that_keeps_killing_ingest_is_dead_lettered_and_the_rest_go_on(
    settings: Settings, partner: Partner,
) -> None:
    """Each stand-in start takes the first message and dies holding it, as a message that
    crashes the interpreter would make ingest do; after ``ingest_max_deliver`` such starts in
    a row the next ingest sets it aside unapplied and answers it."""
    js = partner.js
    await ensure_streams(js, settings)
    killer, *others = [await partner.publish(m) for m in case_messages()[:3]]
    for _ in range(settings.ingest_max_deliver):
        sub, _plan = await subscribe_in_order(js, settings, process_start=True)
        (held,) = await sub.fetch(1, timeout=10)
        assert held.metadata.sequence.stream == killer
        await sub.unsubscribe()  # the process died: nothing acknowledged

    runtime = await Runtime(settings).start()
    try:
        first, *rest = await partner.receipts_for([killer, *others], timeout=45)
    finally:
        await runtime.stop()
    assert (first.status, first.reason) == ("rejected", "internal_error")
    assert "dead-letter" in first.summary
    info = await js.stream_info(settings.stream_deadletter)
    dead = await js.get_msg(settings.stream_deadletter, seq=info.state.last_seq)
    assert (dead.headers or {})["Careloop-Original-Sequence"] == str(killer)
    assert "died" in (dead.headers or {})["Careloop-Reason"]
    # The killer was the registration: its client's consent is refused, not lost or stuck.
    assert [(r.status, r.reason) for r in rest] == [
        ("rejected", "client_not_registered"), ("rejected", "client_not_registered")]
