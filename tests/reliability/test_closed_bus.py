"""careloop's internal streams (inbound, events with the disclosures, dead letters) are
closed to every credential but careloop's own, in embedded mode (the Quick start) and with
the generated production configuration; partners can do what the partner guide says."""

from __future__ import annotations

import asyncio
import contextlib
import json
import stat
from pathlib import Path
from typing import Any

import pytest

from services.bus.embedded_auth import CREDENTIALS_FILE, SERVER_CONFIG_FILE, load_credentials
from services.bus.embedded_nats import EmbeddedNats
from services.bus.permissions import new_credentials, write_nats_server_config
from services.bus.streams import feed_stream
from services.partners.demo import post_story
from services.partners.registry import PartnerRegistry
from services.runtime import Runtime
from services.settings import Settings
from tests.helpers import CLIENT_ID
from tests.reliability.closed_bus import (
    Partner,
    anonymous_is_refused,
    internal_streams_are_closed_to,
    other_feeds_are_closed,
    query_care_plan,
    receipts_from_the_stream,
)
from tests.reliability.conftest import Figures

ROOT = Path(__file__).resolve().parents[2]
REGISTRY = PartnerRegistry.load(ROOT / "deploy" / "partners.json")
RIVERSIDE_MESSAGES = 5  # of the demo story's seven; harbor-cases sends two

@pytest.fixture
def base_settings(base_settings: Settings) -> Settings:
    """With the partner feeds on (the suite's default turns them off)."""
    return base_settings.model_copy(update={"feeds": True})


async def partner_does_its_job_and_nothing_more(runtime: Runtime,
                                                passwords: dict[str, str]) -> int:
    s = runtime.settings
    password = passwords["riverside-ehr"]
    harbor = Partner()
    try:  # harbor's system reads its organisation's feed: the demo client, housing view
        await harbor.connect(runtime.nats_url, "harbor-cases", passwords["harbor-cases"])
        assert harbor.nc is not None
        sub = await harbor.nc.jetstream(timeout=10).pull_subscribe_bind(
            "harbor-cases", feed_stream(s, "harbor-housing"))
        seen: list[dict[str, Any]] = []
        for _ in range(120):
            with contextlib.suppress(Exception):  # nothing (yet) within the timeout
                seen += [json.loads(m.data) for m in await sub.fetch(10, timeout=0.5)]
            if any(m.get("view", {}).get("referrals") for m in seen):
                break
        assert seen and {(m["client_id"], m["role"]) for m in seen} == {
            (CLIENT_ID, "housing-advocate")}
        assert all("diagnoses" not in m["view"] for m in seen)
    finally:
        await harbor.close()
    riverside = Partner()
    try:
        await riverside.connect(runtime.nats_url, "riverside-ehr", password)
        receipts = await receipts_from_the_stream(riverside, "riverside-ehr", s,
                                                  RIVERSIDE_MESSAGES)
        assert len(receipts) == RIVERSIDE_MESSAGES
        assert {r["source_system"] for r in receipts} == {"riverside-ehr"}
        assert {r["status"] for r in receipts} == {"accepted"}
        answer = await query_care_plan(riverside, runtime, CLIENT_ID)
        assert answer["status"] == 200, answer
        assert answer["body"]["client_id"] == CLIENT_ID
        refused = await internal_streams_are_closed_to(riverside, s)
        refused += await other_feeds_are_closed(riverside, s, "harbor-housing", "riverside-ehr")
    finally:
        await riverside.close()
    return refused


async def inbound_left(runtime: Runtime) -> int:
    """Raw inbound messages still kept: none once ingest has settled them all."""
    assert runtime._nc is not None
    js = runtime._nc.jetstream()
    for _ in range(600):
        info = await js.stream_info(runtime.settings.stream_inbound)
        if info.state.messages == 0:
            break
        await asyncio.sleep(0.05)
    assert str(getattr(info.config.retention, "value", info.config.retention)) == "workqueue"
    return int(info.state.messages)


@pytest.mark.parametrize("store_kind", ["sqlite"])
async def test_embedded_quick_start_runs_a_closed_bus(
    base_settings: Settings, figures: Figures,
) -> None:
    assert base_settings.nats_url is None  # embedded: careloop starts its own nats-server
    runtime = await Runtime(base_settings).start()
    try:
        data = base_settings.data_dir
        for name in (CREDENTIALS_FILE, SERVER_CONFIG_FILE):
            assert stat.S_IMODE((data / name).stat().st_mode) == 0o600
        assert stat.S_IMODE(data.stat().st_mode) == 0o700
        credentials = load_credentials(data)
        receipts = await post_story(runtime.nats_url, runtime.settings.stream_inbound,
                                    credentials.partner_options)
        assert {r.status for r in receipts} == {"accepted"}
        await anonymous_is_refused(runtime.nats_url)
        refused = await partner_does_its_job_and_nothing_more(runtime, credentials.passwords)
        assert await inbound_left(runtime) == 0  # settled messages are gone (work queue)
    finally:
        await runtime.stop()
    figures("closed_bus_embedded", {"anonymous_refused": 1, "partner_attempts_refused": refused,
                                    "leaked": 0})


@pytest.mark.parametrize("store_kind", ["sqlite"])
async def test_generated_production_config_closes_the_internal_streams(
    base_settings: Settings, tmp_path: Path, figures: Figures,
) -> None:
    config, passwords = new_credentials(REGISTRY, streams=base_settings)
    assert "jetstream" in config and config["jetstream"]["cipher"]
    path = write_nats_server_config(tmp_path / "nats.json", config)
    server = EmbeddedNats(tmp_path / "nats", config=path).start()
    settings = base_settings.model_copy(update={
        "nats_url": server.url, "nats_user": "careloop", "nats_password": passwords["careloop"],
        "partners_file": ROOT / "deploy" / "partners.json"})
    try:
        runtime = await Runtime(settings).start()
        try:
            def options(system: str) -> dict[str, Any]:
                return {"user": system, "password": passwords[system],
                        "inbox_prefix": f"_INBOX_{system}".encode()}

            receipts = await post_story(runtime.nats_url, settings.stream_inbound, options)
            assert {r.status for r in receipts} == {"accepted"}
            await anonymous_is_refused(server.url)
            refused = await partner_does_its_job_and_nothing_more(runtime, passwords)
        finally:
            await runtime.stop()
    finally:
        server.stop()
    figures("closed_bus_production", {"anonymous_refused": 1,
                                      "partner_attempts_refused": refused, "leaked": 0})


def test_partner_permissions_are_exactly_what_the_partner_guide_documents() -> None:
    config, _ = new_credentials(REGISTRY)
    users = {u["user"]: u["permissions"] for u in config["authorization"]["users"]}
    harbor = users["harbor-cases"]
    assert harbor["subscribe"] == {"allow": ["careloop.receipts.harbor-cases",
                                             "_INBOX_harbor-cases.>"]}
    assert sorted(harbor["publish"]["allow"]) == sorted([
        "careloop.in.harbor-cases.>", "careloop.query.>",
        "$JS.API.CONSUMER.MSG.NEXT.CARELOOP_RECEIPTS.harbor-cases",
        "$JS.API.CONSUMER.INFO.CARELOOP_RECEIPTS.harbor-cases",
        "$JS.ACK.CARELOOP_RECEIPTS.harbor-cases.>",
        "$JS.API.CONSUMER.MSG.NEXT.CARELOOP_FEED_harbor-housing.harbor-cases",
        "$JS.API.CONSUMER.INFO.CARELOOP_FEED_harbor-housing.harbor-cases",
        "$JS.ACK.CARELOOP_FEED_harbor-housing.harbor-cases.>",
        "$JS.API.STREAM.INFO.CARELOOP_FEED_harbor-housing",
        "$JS.API.DIRECT.GET.CARELOOP_FEED_harbor-housing",
        "$JS.API.DIRECT.GET.CARELOOP_FEED_harbor-housing.careloop.feed.harbor-housing.>"])
    # No partner may create, change or delete anything, nor touch another's stream.
    for system, permissions in users.items():
        if system == "careloop":
            continue
        for subject in permissions["publish"]["allow"]:
            assert "CREATE" not in subject and "DELETE" not in subject and "UPDATE" not in subject
            assert "EVENTS" not in subject and "INBOUND" not in subject
            assert "DEADLETTER" not in subject
    assert json.dumps(config).count('"user"') == len(REGISTRY.partners) + 1  # no anonymous


# The shipped cluster configs (deploy/nats) are tested in tests/deploy/test_nats_configs.py.


@pytest.mark.parametrize("name", ["riverside.ehr", "ehr.>", "*", "with space", ""])
def test_a_system_or_organisation_name_cannot_widen_its_subjects(name: str) -> None:
    from services.partners.registry import Partner

    for registry in (PartnerRegistry([Partner(name, frozenset({"riverside-cmhc"}))]),
                     PartnerRegistry([Partner("riverside-ehr", frozenset({name}))])):
        with pytest.raises(ValueError, match="letters, digits"):
            new_credentials(registry)


@pytest.mark.parametrize("store_kind", ["sqlite"])
async def test_a_component_beside_embedded_careloop_uses_its_credentials(
    base_settings: Settings,
) -> None:
    """`careloop serve --component projector` with NATS_URL pointing at embedded careloop's
    server, from the same data folder, connects as careloop's user."""
    embedded = await Runtime(base_settings, ("ingest", "relay", "api")).start()
    try:
        beside = base_settings.model_copy(update={"nats_url": embedded.nats_url})
        component = await Runtime(beside, ("projector",)).start()
        try:
            assert component.settings.nats_user == "careloop"
            credentials = load_credentials(base_settings.data_dir)
            await post_story(embedded.nats_url, embedded.settings.stream_inbound,
                             credentials.partner_options)
            assert component.views is not None
            views = component.views
            for _ in range(600):  # the separate projector applies what the relay published
                if (await asyncio.to_thread(views.position, "care_plan_v1")).stream_seq >= 7:
                    break
                await asyncio.sleep(0.05)
            assert (await asyncio.to_thread(views.position, "care_plan_v1")).stream_seq >= 7
        finally:
            await component.stop()
        elsewhere = beside.model_copy(update={"data_dir": base_settings.data_dir / "other"})
        from services.bus.embedded_auth import joining_embedded

        assert joining_embedded(elsewhere).nats_user == ""  # no credentials: stays anonymous
        from services.bus.connection import CredentialsRefused

        wrong = beside.model_copy(update={"nats_user": "careloop", "nats_password": "wrong"})
        with pytest.raises(CredentialsRefused, match="CARELOOP_NATS_PASSWORD"):
            await Runtime(wrong, ()).start()  # fails at once instead of retrying for ever
    finally:
        await embedded.stop()
