"""Partner feeds on the closed bus: each organisation reads, with its own system's
credentials, the views of the clients it is on the care team of, rendered by its role's
policy; nothing of other clients; revoking a consent replaces what the feed held; ending
the relationship ends the feed; every delivery is in the accounting of disclosures."""

from __future__ import annotations

import asyncio
import json
import uuid
from typing import Any

import pytest
from nats.js.errors import NotFoundError

from domain.disclosure import Disclosure
from projections import care_plan, role_views
from projections.partner_feed import VOLATILE
from services.bus.embedded_auth import load_credentials
from services.bus.streams import feed_stream, feed_subject
from services.runtime import COMPONENTS, Runtime
from services.settings import Settings
from tests.e2e.test_care_story import Team
from tests.helpers import CLIENT_ID
from tests.reliability.closed_bus import Partner

HOUSING = role_views.HOUSING
OTHER_CLIENT = str(uuid.uuid4())

@pytest.fixture
def base_settings(base_settings: Settings) -> Settings:
    """With the partner feeds on (the suite's default turns them off)."""
    return base_settings.model_copy(update={"feeds": True})


def stable(view: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in view.items() if k not in VOLATILE}


class FeedReader:
    """A partner system following its organisation's feed with its durable consumer."""

    def __init__(self, partner: Partner, system: str, stream: str) -> None:
        self.partner, self.system, self.stream = partner, system, stream
        self.received: list[dict[str, Any]] = []
        self.sub: Any = None

    async def until(self, done: Any, timeout: float = 120) -> dict[str, Any]:
        assert self.partner.nc is not None
        if self.sub is None:
            self.sub = await self.partner.nc.jetstream(timeout=10).pull_subscribe_bind(
                self.system, self.stream)
        deadline = asyncio.get_running_loop().time() + timeout
        while asyncio.get_running_loop().time() < deadline:
            try:
                msgs = await self.sub.fetch(50, timeout=0.5)
            except Exception:
                msgs = []
            for m in msgs:
                self.received.append(json.loads(m.data))
                await m.ack()
            found = [r for r in self.received if done(r)]
            if found:
                return found[-1]
        raise AssertionError(f"not in the feed within {timeout}s: {self.received[-3:]}")


async def all_messages(partner: Partner, stream: str) -> list[dict[str, Any]]:
    """Replay from a point: every message still in the stream, by sequence (direct get)."""
    assert partner.nc is not None
    js = partner.nc.jetstream(timeout=10)
    info = await js.stream_info(stream)
    out = []
    for seq in range(1, info.state.last_seq + 1):
        try:
            out.append(json.loads((await js.get_msg(stream, seq=seq, direct=True)).data or b""))
        except NotFoundError:
            continue  # replaced by a newer rendering
    return out


def feed_disclosures(runtime: Runtime) -> list[Any]:
    assert runtime.app is not None
    app = runtime.app
    found = []
    for note in app.recorder.select_notifications(1, 100_000):
        if note.topic.endswith("Disclosure.Recorded"):
            event = app.mapper.to_domain_event(note)
            if getattr(event, "channel", "") == "feed":
                found.append(event)
    return found


@pytest.mark.parametrize("store_kind", ["sqlite"])
async def test_partners_follow_their_own_feeds(base_settings: Settings) -> None:
    runtime = await Runtime(base_settings).start()
    s = runtime.settings
    credentials = load_credentials(s.data_dir)
    team = Team(runtime, credentials.partner_options)
    harbor, riverside = Partner(), Partner()
    try:
        await team.ok("client.registered")
        await team.ok("care_team.member_added")  # a housing advocate of harbor-housing
        await team.ok("consent.recorded")  # housing information to harbor-housing
        await team.ok("referral.made")
        await team.ok("client.registered", client_id=OTHER_CLIENT)  # riverside's only
        await team.ok("care_team.member_added", client_id=OTHER_CLIENT, member_id="sw-1042",
                      role="clinical-social-worker", organisation="riverside-cmhc")

        await harbor.connect(runtime.nats_url, "harbor-cases", credentials.passwords["harbor-cases"])
        await riverside.connect(runtime.nats_url, "riverside-ehr",
                                credentials.passwords["riverside-ehr"])
        harbor_feed = FeedReader(harbor, "harbor-cases", feed_stream(s, "harbor-housing"))
        latest = await harbor_feed.until(
            lambda m: m["client_id"] == CLIENT_ID and m["view"].get("referrals"))
        assert runtime.views is not None
        full = await asyncio.to_thread(runtime.views.get, care_plan.VIEW, CLIENT_ID)
        assert full is not None
        assert stable(latest["view"]) == stable(role_views.render(full, HOUSING, "harbor-housing"))
        assert {(m["organisation"], m["role"], m["client_id"]) for m in harbor_feed.received} \
            == {("harbor-housing", HOUSING, CLIENT_ID)}  # nothing of riverside's client
        assert "diagnoses" not in latest["view"] and "consents" not in latest["view"]

        riverside_feed = FeedReader(riverside, "riverside-ehr", feed_stream(s, "riverside-cmhc"))
        own = await riverside_feed.until(lambda m: m["client_id"] == OTHER_CLIENT)
        assert own["role"] == "clinical-social-worker"
        assert {m["client_id"] for m in riverside_feed.received} == {OTHER_CLIENT}

        # Revoking the consent replaces what the feed held: the referral is gone from it.
        await team.ok("consent.revoked")
        revoked = await harbor_feed.until(lambda m: m["view"].get("consent_required"))
        assert not revoked["view"].get("referrals")
        kept = await all_messages(harbor, feed_stream(s, "harbor-housing"))
        assert len(kept) == 1 and "Eviction notice" not in json.dumps(kept)

        # The relationship ends: so does the feed, and the last view leaves the stream.
        await team.ok("care_team.member_ended")
        await harbor_feed.until(lambda m: m["relationship"] == "ended")
        kept = await all_messages(harbor, feed_stream(s, "harbor-housing"))
        assert kept == [{"organisation": "harbor-housing", "role": HOUSING,
                         "client_id": CLIENT_ID, "relationship": "ended"}]
        assert runtime.feeds is not None
        subject = feed_subject("harbor-housing", HOUSING, CLIENT_ID)
        assert subject.startswith("careloop.feed.harbor-housing.")

        # Every view that left is a disclosure, to the organisation's feed.
        disclosures = feed_disclosures(runtime)
        views_sent = [m for m in harbor_feed.received + riverside_feed.received if "view" in m]
        assert len(disclosures) >= len(views_sent) >= 3
        assert {(d.viewer_id, d.viewer_organisation) for d in disclosures} == {
            ("harbor-housing-feed", "harbor-housing"), ("riverside-cmhc-feed", "riverside-cmhc")}
        assert all(isinstance(d, Disclosure.Recorded) for d in disclosures)
    finally:
        for client in team.clients.values():
            await client.close()
        await harbor.close()
        await riverside.close()
        await runtime.stop()


@pytest.mark.parametrize("store_kind", ["sqlite"])
async def test_feeds_resume_after_a_restart_without_sending_anything_twice(
    base_settings: Settings,
) -> None:
    """Embedded mode started again on the same data folder: same credentials, same keys, the
    feed's durable consumer resumes, and an unchanged view is not published again."""

    async def latest(runtime: Runtime, done: Any) -> int:
        """The feed stream's last sequence once the client's latest message satisfies
        ``done``."""
        assert runtime._nc is not None
        js = runtime._nc.jetstream()
        stream = feed_stream(runtime.settings, "harbor-housing")
        for _ in range(1200):
            try:
                last = await js.get_msg(stream, subject=feed_subject(
                    "harbor-housing", HOUSING, CLIENT_ID), direct=True)
                if done(json.loads(last.data or b"{}")):
                    return int((await js.stream_info(stream)).state.last_seq)
            except NotFoundError:
                pass
            await asyncio.sleep(0.05)
        raise AssertionError("the feed did not get there")

    # No deadline watcher: it would record the example referral's missed deadline on start,
    # a real change that the feed rightly publishes.
    parts = tuple(c for c in COMPONENTS if c != "deadlines")
    first = await Runtime(base_settings, parts).start()
    team = Team(first, load_credentials(base_settings.data_dir).partner_options)
    try:
        for step in ("client.registered", "care_team.member_added", "consent.recorded",
                     "referral.made"):
            await team.ok(step)
        before = await latest(first, lambda m: m.get("view", {}).get("referrals"))
    finally:
        for client in team.clients.values():
            await client.close()
        await first.stop()

    second = await Runtime(base_settings, parts).start()
    team = Team(second, load_credentials(base_settings.data_dir).partner_options)
    try:
        await asyncio.sleep(2)  # time to replay anything it would wrongly replay
        assert second.feeds is not None and second.feeds.published == 0
        # A replayed batch (a crash before its acknowledgement) renders the client again:
        # what the stream already holds is read back and nothing is sent twice.
        assert await second.feeds.publish_client(CLIENT_ID) == 0
        await team.ok("consent.revoked")
        after = await latest(second, lambda m: m.get("view", {}).get("consent_required"))
        assert after == before + 1 and second.feeds.published == 1
    finally:
        for client in team.clients.values():
            await client.close()
        await second.stop()


@pytest.mark.parametrize("store_kind", ["sqlite"])
async def test_health_turns_degraded_when_the_feeds_are_stuck(
    base_settings: Settings, monkeypatch: pytest.MonkeyPatch,
) -> None:
    import services.runtime

    monkeypatch.setattr(services.runtime, "FEEDS_STUCK_SECONDS", 1.0)
    runtime = await Runtime(base_settings).start()
    team = Team(runtime, load_credentials(base_settings.data_dir).partner_options)
    try:
        assert (await runtime.health()).status == "ok"
        assert runtime.feeds is not None
        publish = runtime.feeds.publish_client

        async def failing(client_id: str) -> int:  # the disclosure record cannot be written
            raise OSError("disk I/O error")

        monkeypatch.setattr(runtime.feeds, "publish_client", failing)
        await team.ok("client.registered")
        await team.ok("care_team.member_added")  # its feed cannot be published
        for _ in range(600):
            probe = await runtime.health()
            if probe.status == "degraded":
                break
            await asyncio.sleep(0.05)
        assert probe.status == "degraded" and probe.feeds["failing_seconds"] >= 1.0
        monkeypatch.setattr(runtime.feeds, "publish_client", publish)  # the fault clears
        for _ in range(600):
            probe = await runtime.health()
            if probe.status == "ok":
                break
            await asyncio.sleep(0.05)
        assert probe.status == "ok" and runtime.feeds.published >= 1
    finally:
        for client in team.clients.values():
            await client.close()
        await runtime.stop()


@pytest.mark.parametrize("store_kind", ["sqlite"])
async def test_a_removed_feed_stream_is_made_again_and_nothing_is_lost(
    base_settings: Settings,
) -> None:
    runtime = await Runtime(base_settings).start()
    credentials = load_credentials(base_settings.data_dir)
    team = Team(runtime, credentials.partner_options)
    harbor = Partner()
    try:
        assert runtime._nc is not None
        await runtime._nc.jetstream().delete_stream(feed_stream(runtime.settings,
                                                                "harbor-housing"))
        await team.ok("client.registered")
        await team.ok("care_team.member_added")  # published once the stream is back
        await harbor.connect(runtime.nats_url, "harbor-cases", credentials.passwords["harbor-cases"])
        reader = FeedReader(harbor, "harbor-cases", feed_stream(runtime.settings,
                                                                "harbor-housing"))
        got: dict[str, Any] = {}
        for _ in range(30):  # the stream and harbor's consumer are made again first
            try:
                got = await reader.until(lambda m: m["client_id"] == CLIENT_ID, timeout=2)
                break
            except Exception:
                reader.sub = None
                await asyncio.sleep(0.5)
        assert got["relationship"] == "active" and got["role"] == HOUSING
        assert (await runtime.health()).status == "ok"
    finally:
        for client in team.clients.values():
            await client.close()
        await harbor.close()
        await runtime.stop()
