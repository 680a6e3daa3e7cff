"""The deploy/ cluster under fire: three nats-servers from the shipped configs (TLS on client
and route ports, the generated users, encrypted JetStream), careloop on PostgreSQL with R3
streams and every node in NATS_URL, the care story posted by the partner systems with their
own users; the inbound stream's leader is killed (-9) mid-story and restarted later.

Nothing may be lost or doubled: each message exactly one receipt with the right status, each
stored event exactly once in the store and on the events stream, and the views equal to a
rebuild from the store."""

from __future__ import annotations

import asyncio
import json
import time
import uuid
from collections import Counter
from pathlib import Path
from typing import Any

import nats
import pytest
from nats.aio.client import Client as NATS
from nats.js import JetStreamContext

from projections import care_plan
from projections.view_store import ViewStore
from services.bus.connection import connect_options
from services.bus.lease import bucket_name as lease_bucket
from services.bus.permissions import partner_inbox
from services.bus.streams import inbound_subject
from services.health.component_reports import bucket_name as health_bucket
from services.partners.demo import example, story
from services.projector.consumer import CARE_PLAN
from services.runtime import Runtime
from services.settings import Settings
from services.store.care_app import create_care_app
from services.store.event_store_config import eventsourcing_env
from services.store.view_stores import open_view_store
from tests.deploy.nats_cluster import DeployCluster
from tests.rebuild import project
from tests.reliability.reconcile import store_event_ids

pytestmark = pytest.mark.postgres


async def retried(call: Any, what: str, timeout: float = 45.0) -> Any:
    """What a careful client does while the cluster elects a new leader: try again."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            return await call()
        except Exception as e:
            if time.monotonic() > deadline:
                raise AssertionError(f"{what}: still failing after {timeout}s: {e!r}") from e
            await asyncio.sleep(0.3)


class Partners:
    """Each team system on its own NATS user, over TLS, publishing with its message id as
    ``Nats-Msg-Id`` so that a publish repeated after a lost acknowledgement is stored once."""

    def __init__(self, cluster: DeployCluster, inbound: str) -> None:
        self.cluster, self.inbound = cluster, inbound
        self.connections: dict[str, NATS] = {}

    async def js(self, system: str) -> JetStreamContext:
        if system not in self.connections:
            self.connections[system] = await nats.connect(
                self.cluster.url.split(","), user=system,
                password=self.cluster.passwords()[system],
                inbox_prefix=partner_inbox(system).encode(), tls=self.cluster.tls(),
                max_reconnect_attempts=-1, reconnect_time_wait=0.2, connect_timeout=3)
        return self.connections[system].jetstream(timeout=3)

    async def post(self, message: dict[str, Any]) -> None:
        js = await self.js(message["source_system"])
        subject = inbound_subject(message["source_system"], message["message_type"])
        body = json.dumps(message).encode()
        await retried(lambda: js.publish(subject, body, stream=self.inbound, timeout=3,
                                         headers={"Nats-Msg-Id": message["message_id"]}),
                      f"publish {message['message_type']}")

    async def close(self) -> None:
        for nc in self.connections.values():
            await nc.close()


async def stream_messages(js: JetStreamContext, stream: str) -> list[dict[str, Any]]:
    """Every message of a stream, in order (read by sequence, as careloop's user)."""
    last = (await retried(lambda: js.stream_info(stream), "stream info")).state.last_seq
    out = []
    for seq in range(1, last + 1):
        msg = await retried(lambda s=seq: js.get_msg(stream, seq=s), f"{stream} #{seq}")
        out.append(json.loads(msg.data or b"{}"))
    return out


async def wait_for(check: Any, what: str, timeout: float = 45.0) -> Any:
    deadline = time.monotonic() + timeout
    while True:
        found = await check()
        if found:
            return found
        if time.monotonic() > deadline:
            raise AssertionError(f"{what} within {timeout}s")
        await asyncio.sleep(0.3)


def rebuilt_views(settings: Settings, directory: Path, clients: set[str]) -> dict[str, Any]:
    app = create_care_app(eventsourcing_env(settings))
    directory.mkdir(parents=True)
    views: ViewStore = open_view_store(settings.model_copy(
        update={"store": "sqlite", "data_dir": directory}))
    try:
        project(app, views)
        return {cid: views.get(care_plan.VIEW, cid) for cid in clients}
    finally:
        views.close()
        app.close()


@pytest.mark.parametrize("store_kind", ["postgres"])
async def test_the_deploy_cluster_loses_and_doubles_nothing_when_the_stream_leader_dies(
    base_settings: Settings, tmp_path: Path,
) -> None:
    cluster = DeployCluster(tmp_path / "cluster", base_settings.partners_file or Path())
    await asyncio.to_thread(cluster.start)
    settings = base_settings.model_copy(update={
        "nats_url": cluster.url, "nats_user": "careloop",
        "nats_password": cluster.passwords()["careloop"], "nats_tls_ca": cluster.ca,
        "stream_replicas": 3})
    runtime: Runtime | None = None
    partners = Partners(cluster, settings.stream_inbound)
    own = None
    try:
        runtime = await Runtime(settings).start()
        own = await nats.connect(cluster.url.split(","), max_reconnect_attempts=-1,
                                 reconnect_time_wait=0.2, **connect_options(settings))
        js = own.jetstream(timeout=3)
        info = await js.stream_info(settings.stream_inbound)
        assert info.config.num_replicas == 3 and info.cluster is not None
        for bucket in (lease_bucket(settings), health_bucket(settings)):  # outlive a node too
            assert (await js.stream_info(f"KV_{bucket}")).config.num_replicas == 3, bucket

        messages = list(story())
        wrong = {**example("referral.accepted"), "message_id": f"cluster-{uuid.uuid4()}"}
        wrong["payload"] = {**wrong["payload"], "referral_id": str(uuid.uuid4())}
        expected = {m["message_id"]: "accepted" for m in messages}
        expected[wrong["message_id"]] = "rejected"  # no such referral: a rule refuses it
        half = len(messages) // 2
        first, second = messages[:half], [*messages[half:half + 4], wrong, *messages[half + 4:]]

        async def receipts() -> list[dict[str, Any]]:
            return await stream_messages(js, settings.stream_receipts)

        async def answered(ids: set[str]) -> list[dict[str, Any]] | None:
            found = await receipts()
            return found if ids <= {r["message_id"] for r in found} else None

        for message in first[:3]:  # the client registered: the cluster is working
            await partners.post(message)
        await wait_for(lambda: answered({m["message_id"] for m in first[:3]}), "receipts")
        for message in first[3:]:
            await partners.post(message)
        # Killed while ingest is still working through what was just published.
        leader = (await js.stream_info(settings.stream_inbound)).cluster.leader
        cluster.nodes[leader].kill()
        for message in second[:4]:
            await partners.post(message)

        async def new_leader() -> str | None:
            info = await retried(lambda: js.stream_info(settings.stream_inbound), "info")
            return info.cluster.leader if info.cluster.leader not in (None, leader) else None

        assert await wait_for(new_leader, "another node leads the inbound stream")
        cluster.nodes[leader].start()
        for message in second[4:]:
            await partners.post(message)
        found = await wait_for(lambda: answered(set(expected)), "a receipt for every message")
        await asyncio.to_thread(cluster.wait_healthy)

        # Exactly one receipt per message, with the right status.
        counts = Counter(r["message_id"] for r in found)
        assert counts == Counter(set(expected)), counts
        assert {r["message_id"]: r["status"] for r in found} == expected
        # (duplicate=True is right for a message stored before its first receipt could go
        # out: its receipt then names the events stored the first time.)
        assert all(r["event_ids"] for r in found if r["status"] == "accepted")
        accepted = [e for r in found for e in r["event_ids"]]

        # Each event once in the store, once on the events stream, in store order.
        stored = await asyncio.to_thread(store_event_ids, settings)
        assert len(stored) == len(set(stored)) and sorted(stored) == sorted(accepted)

        async def published() -> list[str] | None:
            ids = [e["event_id"] for e in await stream_messages(js, settings.stream_events)]
            return ids if len(ids) >= len(stored) else None

        assert await wait_for(published, "every event on the events stream") == stored

        # The projector's views equal a rebuild from the store.
        assert runtime.views is not None
        last = (await js.stream_info(settings.stream_events)).state.last_seq
        await wait_for(lambda: asyncio.to_thread(
            lambda: runtime.views.position(CARE_PLAN.name).stream_seq == last),  # type: ignore[union-attr]
            "the projector caught up")
        clients = {m["payload"]["client_id"] for m in messages if "client_id" in m["payload"]}
        rebuilt = await asyncio.to_thread(rebuilt_views, settings, tmp_path / "rebuild", clients)
        for cid in clients:
            live = await asyncio.to_thread(runtime.views.get, care_plan.VIEW, cid)
            assert live is not None and rebuilt[cid] is not None, cid
            # updated_at is the wall clock of the fold, not part of the record.
            assert {**live, "updated_at": None} == {**rebuilt[cid], "updated_at": None}, cid

        # The restarted node is a current replica again.
        async def all_current() -> bool:
            replicas = (await js.stream_info(settings.stream_inbound)).cluster.replicas or []
            return len(replicas) == 2 and all(r.current for r in replicas)

        await wait_for(all_current, "the restarted node is a current replica again")
    finally:
        await partners.close()
        if own is not None:
            await own.close()
        if runtime is not None:
            await runtime.stop()
        await asyncio.to_thread(cluster.stop)
