"""One trace from the partner's publish to the views: the partner client puts a W3C
``traceparent`` on its NATS message, ingest continues it and stores it in the events'
provenance, the relay puts it on the outbound event, the projector continues it; an HTTP
read continues a trace its caller sent. With tracing off a partner's own ``traceparent`` is
still stored and passed on; a malformed one is dropped."""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from typing import Any

import httpx
import nats
import pytest
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from services.api.nats_queries import QUERY_ROOT
from services.bus.streams import inbound_subject
from services.observability import tracing
from services.partners.client import PartnerClient
from services.runtime import Runtime
from tests.helpers import CLIENT_ID, bearer, message
from tests.inbound_partner import Partner, until


@pytest.fixture
def spans() -> Iterator[InMemorySpanExporter]:
    exporter = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    tracing.install(provider)
    yield exporter
    tracing.install(None)
    provider.shutdown()


def stored_trace_contexts(runtime: Runtime) -> dict[str, str | None]:
    """Each stored domain event's trace context, by its provenance's message id."""
    assert runtime.app is not None
    found: dict[str, str | None] = {}
    for note in runtime.app.recorder.select_notifications(0, 1000):
        if note.topic.startswith("domain."):
            event: Any = runtime.app.mapper.to_domain_event(note)
            found[event.provenance.message_id] = event.provenance.trace_context
    return found


async def outbound_traceparents(runtime: Runtime) -> list[str | None]:
    nc = await nats.connect(runtime.nats_url)
    try:
        js = nc.jetstream()
        stream = runtime.settings.stream_events
        last = (await js.stream_info(stream)).state.last_seq
        return [((await js.get_msg(stream, seq=seq)).headers or {}).get("traceparent")
                for seq in range(1, last + 1)]
    finally:
        await nc.close()


def ids(traceparent: str | None) -> tuple[int, int]:
    """(trace id, parent span id) of a W3C traceparent."""
    assert traceparent is not None
    _, trace_id, span_id, _ = traceparent.split("-")
    return int(trace_id, 16), int(span_id, 16)


def one(found: list[ReadableSpan], name: str) -> ReadableSpan:
    named = [s for s in found if s.name == name]
    assert len(named) == 1, [s.name for s in found]
    return named[0]


async def test_one_trace_runs_from_the_partner_through_ingest_relay_and_projector(
    runtime: Runtime, spans: InMemorySpanExporter,
) -> None:
    partner = await PartnerClient.connect(runtime.nats_url, "riverside-ehr",
                                          runtime.settings.stream_inbound)
    try:
        sent = message("client.registered")
        receipt = await partner.post(sent)
        assert receipt.status == "accepted"
    finally:
        await partner.close()

    def names() -> set[str]:
        return {s.name for s in spans.get_finished_spans()}

    await until(lambda: "careloop.projector.apply" in names())
    found = list(spans.get_finished_spans())
    publish, applied = one(found, "careloop.partner.publish"), one(found, "careloop.ingest.apply")
    relayed, projected = one(found, "careloop.relay.publish"), one(found, "careloop.projector.apply")
    trace_id = publish.context.trace_id
    assert {s.context.trace_id for s in (applied, relayed, projected)} == {trace_id}
    assert applied.parent is not None and applied.parent.span_id == publish.context.span_id
    assert relayed.parent is not None and relayed.parent.span_id == applied.context.span_id
    assert projected.parent is not None and projected.parent.span_id == relayed.context.span_id

    # Stored with the event (its provenance) and carried on the outbound event.
    stored = stored_trace_contexts(runtime)[sent["message_id"]]
    assert ids(stored) == (trace_id, applied.context.span_id)
    [outbound] = await outbound_traceparents(runtime)
    assert ids(outbound) == (trace_id, relayed.context.span_id)

    # A read continues the trace its caller sends, named by the route template.
    caller_trace = f"00-{trace_id:032x}-{projected.context.span_id:016x}-01"
    async with httpx.AsyncClient(base_url=runtime.http_url or "") as http:
        read = await http.get(f"/clients/{CLIENT_ID}/care-plan", headers={
            **bearer(runtime.token_secret or ""), "traceparent": caller_trace})
    assert read.status_code == 200
    served = one(list(spans.get_finished_spans()), "GET /clients/{client_id}/care-plan")
    assert served.context.trace_id == trace_id
    assert served.parent is not None and served.parent.span_id == projected.context.span_id
    assert CLIENT_ID not in str(served.attributes)

    # So does a query over NATS.
    nc = await nats.connect(runtime.nats_url)
    try:
        token = bearer(runtime.token_secret or "")["Authorization"].removeprefix("Bearer ")
        reply = await nc.request(f"{QUERY_ROOT}.care_plan", json.dumps(
            {"token": token, "client_id": CLIENT_ID}).encode(), timeout=10,
            headers={"traceparent": caller_trace})
    finally:
        await nc.close()
    assert json.loads(reply.data)["status"] == 200
    queried = one(list(spans.get_finished_spans()), "careloop.query.care_plan")
    assert queried.context.trace_id == trace_id
    assert queried.parent is not None and queried.parent.span_id == projected.context.span_id


async def test_with_tracing_off_a_partners_traceparent_is_kept_and_a_malformed_one_dropped(
    runtime: Runtime, partner: Partner,
) -> None:
    assert not tracing.enabled()
    theirs = f"00-{uuid.uuid4().hex}-{uuid.uuid4().hex[:16]}-01"
    traced, garbled = message("client.registered"), message("care_team.member_added")
    await partner.listen("riverside-ehr")
    seqs = []
    for m, header in ((traced, theirs), (garbled, "Jane Doe, born 1970")):
        ack = await partner.js.publish(
            inbound_subject(m["source_system"], m["message_type"]), json.dumps(
                m).encode(), stream=runtime.settings.stream_inbound,
            headers={"traceparent": header})
        seqs.append(ack.seq)
    assert {r.status for r in await partner.receipts_for(seqs)} == {"accepted"}
    await until(lambda: False if runtime.relay is None else runtime.relay.published >= 2)

    stored = stored_trace_contexts(runtime)
    assert stored[traced["message_id"]] == theirs
    assert stored[garbled["message_id"]] is None
    assert await outbound_traceparents(runtime) == [theirs, None]
