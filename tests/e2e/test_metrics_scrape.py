"""An operator's view after the care story: /metrics of the API process and of a separate
ingest process (its ops port) show the counters moved, the lag gauges exist, and the ops
port answers /livez and /readyz; nothing scraped names a client."""

from __future__ import annotations

import asyncio
import json
import uuid
from pathlib import Path

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families

from contracts.v1.receipts import Receipt
from services.bus.embedded_nats import EmbeddedNats
from services.partners.demo import post_story
from services.runtime import Runtime
from services.settings import Settings
from tests.helpers import CLIENT_ID, bearer, message
from tests.inbound_partner import Partner
from tests.reliability.components import Component

Samples = dict[tuple[str, tuple[tuple[str, str], ...]], float]


def parse(text: str) -> Samples:
    return {(s.name, tuple(sorted(s.labels.items()))): s.value
            for family in text_string_to_metric_families(text) for s in family.samples}


def value(samples: Samples, name: str, **labels: str) -> float:
    """The sum over every series of ``name`` whose labels include ``labels``."""
    return sum(v for (n, ls), v in samples.items()
               if n == name and set(labels.items()) <= set(ls))


def has(samples: Samples, name: str) -> bool:
    return any(n == name for n, _ in samples)


async def ops_url_of(component: Component, timeout: float = 60.0) -> str:
    runtime_file = component.data_dir / "runtime.json"
    for _ in range(int(timeout / 0.1)):
        if runtime_file.exists():
            url = json.loads(runtime_file.read_text()).get("ops_url")
            assert url, "the ingest process was started with CARELOOP_OPS_PORT=0"
            return str(url)
        assert component.alive(), component.log_path.read_text()[-3000:]
        await asyncio.sleep(0.1)
    raise AssertionError(f"ingest never wrote runtime.json: {component.log_path}")


@pytest.mark.parametrize("store_kind", ["postgres"])
async def test_metrics_of_the_api_and_of_an_ingest_process_move_with_the_care_story(
    settings: Settings, tmp_path: Path,
) -> None:
    settings = settings.model_copy(update={"ops_port": 0})
    api = await Runtime(settings, components=("relay", "projector", "api")).start()
    ingest = Component("ingest", settings, tmp_path / "components")
    ingest.env["CARELOOP_OPS_PORT"] = "0"
    ingest.start()
    try:
        ops = await ops_url_of(ingest)
        async with httpx.AsyncClient(base_url=ops, timeout=10) as http:
            before = parse((await http.get("/metrics")).text)
            receipts: list[Receipt] = await post_story(api.nats_url, settings.stream_inbound)
            assert {r.status for r in receipts} == {"accepted"}
            worker_text = (await http.get("/metrics")).text
            after = parse(worker_text)
            live, ready = await http.get("/livez"), await http.get("/readyz")
            missing = await http.get("/nothing")
        async with httpx.AsyncClient(base_url=api.http_url or "", timeout=10) as http:
            for _ in range(100):  # the story reaches the views
                plan = await http.get(f"/clients/{CLIENT_ID}/care-plan",
                                      headers=bearer(api.token_secret or ""))
                if plan.status_code == 200 and plan.json().get("referrals"):
                    break
                await asyncio.sleep(0.1)
            assert plan.status_code == 200, plan.text
            assert api.ops is not None
            await api.ops.sample()
            scraped = (await http.get("/metrics")).text
        async with httpx.AsyncClient(base_url=api.ops.url or "", timeout=10) as http:
            api_ops = await http.get("/metrics")
    finally:
        ingest.stop()
        await api.stop()

    # The ingest process: every type of the story accepted, one receipt per message.
    story_types = {r.message_type for r in receipts}
    for kind in story_types:
        assert value(after, "careloop_inbound_messages_total", message_type=kind,
                     outcome="accepted") > value(before, "careloop_inbound_messages_total",
                                                 message_type=kind, outcome="accepted"), kind
    moved = (value(after, "careloop_receipts_published_total", status="accepted")
             - value(before, "careloop_receipts_published_total", status="accepted"))
    assert moved == len(receipts)
    assert has(after, "careloop_ingest_pending_messages")
    assert has(after, "careloop_dead_letters_total")
    assert value(after, "careloop_ready") == 1
    assert (live.status_code, ready.status_code, missing.status_code) == (200, 200, 404)
    assert ready.json()["components"] == {"ingest": "ok"}

    # The API process (relay, projector and API in one): published, projected, read, timed.
    samples = parse(scraped)
    assert value(samples, "careloop_relay_events_published_total") >= len(receipts)
    assert value(samples, "careloop_projector_events_applied_total",
                 projection="care_plan_v1") >= len(receipts)
    for gauge in ("careloop_relay_lag_events", "careloop_projector_pending_events",
                  "careloop_store_head_position", "careloop_lag_sampled_timestamp_seconds"):
        assert has(samples, gauge), gauge
    assert value(samples, "careloop_store_head_position") > 0
    assert value(samples, "careloop_disclosures_recorded_total", channel="http") >= 1
    assert value(samples, "careloop_http_request_duration_seconds_count",
                 route="/clients/{client_id}/care-plan", method="GET", status="200") >= 1
    assert api_ops.status_code == 200 and "careloop_http_request_duration_seconds" in api_ops.text
    for text in (scraped, api_ops.text, worker_text):
        assert CLIENT_ID not in text


@pytest.mark.parametrize("store_kind", ["sqlite"])
async def test_readyz_fails_while_nats_is_away_and_livez_does_not(
    settings: Settings, nats_server: EmbeddedNats,
) -> None:
    settings = settings.model_copy(update={"ops_port": 0})
    runtime = await Runtime(settings, components=("relay", "projector")).start()
    try:
        assert runtime.ops is not None and runtime.ops.url
        async with httpx.AsyncClient(base_url=runtime.ops.url, timeout=10) as http:
            assert (await http.get("/readyz")).status_code == 200
            nats_server.stop()
            for _ in range(100):
                ready = await http.get("/readyz")
                if ready.status_code == 503:
                    break
                await asyncio.sleep(0.1)
            assert ready.status_code == 503
            assert "NATS is not connected" in ready.json()["problems"]
            assert (await http.get("/livez")).status_code == 200  # a dependency, not the process
            nats_server.start()
            for _ in range(200):
                if (await http.get("/readyz")).status_code == 200:
                    break
                await asyncio.sleep(0.1)
            assert (await http.get("/readyz")).status_code == 200
    finally:
        await runtime.stop()


@pytest.mark.parametrize("store_kind", ["sqlite"])
async def test_what_a_partner_sends_never_becomes_a_metric_label(
    settings: Settings, partner: Partner,
) -> None:
    runtime = await Runtime(settings, components=("ingest", "api")).start()
    try:
        async with httpx.AsyncClient(base_url=runtime.http_url or "", timeout=10) as http:
            before = parse((await http.get("/metrics")).text)
            invented = "janedoe1970"  # a type careloop does not know, chosen by the sender
            garbage = await partner.publish(b'{"name": "Jane Doe"}', invented)
            refused = await partner.publish(message("referral.accepted",
                                                    referral_id=str(uuid.uuid4())))
            receipts = await partner.receipts_for([garbage, refused])
            assert [r.status for r in receipts] == ["rejected", "rejected"]
            text = (await http.get("/metrics")).text
    finally:
        await runtime.stop()
    after = parse(text)
    assert invented not in text and "Jane" not in text
    for kind, outcome in (("other", "rejected"), ("referral.accepted", "refused")):
        assert value(after, "careloop_inbound_messages_total", message_type=kind,
                     outcome=outcome) == value(before, "careloop_inbound_messages_total",
                                               message_type=kind, outcome=outcome) + 1
    assert (value(after, "careloop_receipts_published_total", status="rejected")
            == value(before, "careloop_receipts_published_total", status="rejected") + 2)
