"""Publishes each partner organisation's feed from careloop's internal events stream.

A durable consumer of its own follows the events stream. For each fetched batch it waits
until the projector has applied it (the view store's position), then, for every client the
batch touched, renders the feed messages from the full plan (``projections.partner_feed``),
compares each with the last one on the organisation's feed stream, records a Disclosure
for every view about to leave (one group-committed transaction for the batch; no record,
no delivery), publishes, and only then acknowledges the batch. A crash before the
acknowledgement replays the batch: unchanged messages are not sent again, and the
``Nats-Msg-Id`` (client, organisation, role, plan position) de-duplicates the rest.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
from typing import Any
from uuid import UUID

import structlog
from nats.js import JetStreamContext
from nats.js.api import AckPolicy, ConsumerConfig, DeliverPolicy
from nats.js.errors import NotFoundError

from projections import care_plan, role_views
from projections.partner_feed import FEED_ROLES, PURPOSE, fingerprint, message, views_for
from projections.view_store import ViewStore
from services.api.access_tokens import Caller
from services.api.disclosure_recorder import DisclosureRecorder, Read
from services.bus.jetstream_fetch import fetch_ready
from services.bus.partner_access import ensure_partner_access, feed_organisations
from services.bus.streams import EVENTS_ROOT, feed_stream, feed_subject
from services.bus.waiting import drop_and_back_off
from services.observability import metrics
from services.partners.registry import PartnerRegistry
from services.projector.consumer import CARE_PLAN
from services.settings import Settings

log = structlog.get_logger("careloop.feeds")
Key = tuple[str, str, str]  # (organisation, role, client id)


def feed_reader(organisation: str, role: str) -> Caller:
    """Who a feed delivery discloses to, in the accounting: the organisation's feed."""
    return Caller(f"{organisation}-feed", role, organisation)


class FeedPublisher:
    def __init__(self, js: JetStreamContext, views: ViewStore, settings: Settings,
                 registry: PartnerRegistry, recorder: DisclosureRecorder, batch: int = 500):
        self.js, self.views, self.settings, self.registry = js, views, settings, registry
        self.organisations = feed_organisations(registry)
        self.recorder, self.batch = recorder, batch
        self.durable = f"{settings.consumer_prefix}-feeds"
        self._last: dict[Key, str] = {}
        self._seen: set[str] = set()
        self.published = 0
        self.failing_since: float | None = None
        """Monotonic time of the first failure since the last batch went through."""

    async def _subscribe(self) -> JetStreamContext.PullSubscription:
        config = ConsumerConfig(ack_policy=AckPolicy.ALL, ack_wait=120, max_ack_pending=10_000,
                                deliver_policy=DeliverPolicy.ALL)
        return await self.js.pull_subscribe(f"{EVENTS_ROOT}.>", durable=self.durable,
                                            stream=self.settings.stream_events, config=config)

    async def run(self, stop: asyncio.Event) -> None:
        backoff, sub = 0.5, None
        while not stop.is_set():
            msgs: list[Any] = []
            try:
                if sub is None:
                    sub = await self._subscribe()
                msgs = await fetch_ready(sub, self.batch, wait=0.5)
                if not msgs:
                    continue
                events = [json.loads(m.data) for m in msgs]
                if not await self._views_reached(
                        max(int(e.get("position", 0)) for e in events), stop):
                    break  # stopping: the batch stays unacknowledged and comes back
                clients = dict.fromkeys(str(e["client_id"]) for e in events if e.get("client_id")
                                        and not e["event_type"].startswith("disclosure."))
                for client_id in clients:
                    await self.publish_client(client_id)
                await msgs[-1].ack()
                backoff, self.failing_since = 0.5, None
            except Exception as e:  # NATS or the store away: the batch comes back
                log.warning("feeds_retrying", error=type(e).__name__, detail=str(e)[:200])
                metrics.retried("feeds", e)
                if self.failing_since is None:
                    self.failing_since = asyncio.get_running_loop().time()
                with contextlib.suppress(Exception):  # a feed stream removed? made again
                    await ensure_partner_access(self.js, self.settings, self.registry)
                for msg in msgs:  # back at once after the backoff, not after the ack wait
                    with contextlib.suppress(Exception):
                        await msg.nak(delay=backoff)
                backoff = await drop_and_back_off(sub, stop, backoff)
                sub = None

    def stuck_for(self) -> float:
        """Seconds the feeds have been failing without a batch going through (0: fine)."""
        if self.failing_since is None:
            return 0.0
        return asyncio.get_running_loop().time() - self.failing_since

    async def _views_reached(self, position: int, stop: asyncio.Event) -> bool:
        """Wait until the projector has applied up to ``position``; False if stopping."""
        while not stop.is_set():
            done = await asyncio.to_thread(self.views.position, CARE_PLAN.name)
            if done.store_position >= position:
                return True
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), timeout=0.05)
        return False

    async def _previous(self, client_id: str) -> None:
        """After a start, what the feeds already hold for a client (read back once)."""
        if client_id in self._seen:
            return
        for org in sorted(self.organisations):
            for role in FEED_ROLES:
                try:
                    last = await self.js.get_msg(feed_stream(self.settings, org),
                                                 subject=feed_subject(org, role, client_id),
                                                 direct=True)
                except NotFoundError:
                    continue
                self._last[(org, role, client_id)] = fingerprint(json.loads(last.data or b"{}"))
        self._seen.add(client_id)

    async def publish_client(self, client_id: str) -> int:
        full = await asyncio.to_thread(self.views.get, care_plan.VIEW, client_id)
        if full is None:
            return 0
        await self._previous(client_id)
        current = views_for(full, self.organisations)
        had = {(o, r) for o, r, c in self._last if c == client_id}
        outgoing: list[tuple[Key, dict[str, Any], str]] = []
        for org, role in sorted(set(current) | had):
            msg = message(org, role, client_id, current.get((org, role)))
            mark = fingerprint(msg)
            if self._last.get((org, role, client_id)) != mark:
                outgoing.append(((org, role, client_id), msg, mark))
        await asyncio.gather(*(self.recorder.record(Read(
            UUID(client_id), feed_reader(org, role), role_views.view_name(role),
            PURPOSE[role], "feed")) for (org, role, _), msg, _ in outgoing if "view" in msg))
        for (org, role, cid), msg, mark in outgoing:
            await self.js.publish(
                feed_subject(org, role, cid), json.dumps(msg, default=str).encode(),
                stream=feed_stream(self.settings, org), timeout=10,
                headers={"Nats-Msg-Id": f"{cid}.{org}.{role}.{full.get('last_position')}"})
            self._last[(org, role, cid)] = mark
            self.published += 1
        metrics.FEED_VIEWS.inc(len(outgoing))
        return len(outgoing)
