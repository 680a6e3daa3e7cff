"""What ``/health`` concludes: ``ok`` only when nothing is away, stuck, set aside or altered.

Degraded, with a sentence per cause in ``problems``, when:
- NATS or the event store does not answer (within the probe's time limit);
- a backlog stops moving: the relay (store head not yet published), the projection (events
  not yet in the views) or ingest (inbound messages not yet acknowledged) has work waiting
  and its position has not moved for ``health_stall_seconds``;
- a component reports trouble, or has not reported for ``health_stall_seconds`` (a worker
  process that died or hangs): see ``component_reports``;
- the hash chain found tampering (the ``hash_chain`` component's report);
- an event was quarantined by a projection, or an inbound message dead-lettered, within
  ``health_recent_seconds``.
The API process samples this every second, so a stall is seen without anyone asking.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta
from typing import Any

from nats.aio.client import Client as NATS
from nats.js.errors import NotFoundError

from projections.view_store import ViewStore
from services.api.http_app import HealthProbe
from services.health.component_reports import read_reports
from services.ingest.partitions import durable_names
from services.projector.consumer import CARE_PLAN
from services.projector.quarantine import Quarantine
from services.relay.outbound_events import is_published
from services.relay.outbox_relay import OutboxRelay, stream_position
from services.settings import Settings
from services.store.care_app import CareLoop

TIMEOUT = 3.0
Blocking = Callable[[Callable[[], Any]], Awaitable[Any]]


class HealthChecks:
    def __init__(self, settings: Settings, app: CareLoop, views: ViewStore, nc: NATS,
                 relay: OutboxRelay | None, quarantine: Quarantine | None,
                 blocking: Blocking, nats_url: str) -> None:
        self.s, self.app, self.views, self.nc = settings, app, views, nc
        self.relay, self.quarantine, self.blocking = relay, quarantine, blocking
        self.nats_url = nats_url
        self._moved: dict[str, tuple[int, float]] = {}
        self._started = time.monotonic()

    def _lag(self, head: int | None, position: int) -> int | None:
        """Stored events after ``position`` still to publish/project. Notes careloop never
        publishes (ledger entries of messages that caused no event) can trail the head: they
        are no backlog, or a finished relay would look stuck."""
        if head is None or head <= position:
            return None if head is None else 0
        notes = self.app.recorder.select_notifications(position, 50, inclusive_of_start=False)
        if len(notes) < 50 and not any(is_published(n.topic) for n in notes):
            return 0
        return head - position

    def _stalled(self, name: str, position: int, backlog: int) -> bool:
        """True when ``backlog`` waits and ``position`` has not moved for the stall limit."""
        now = time.monotonic()
        last = self._moved.get(name)
        if last is None or last[0] != position or backlog <= 0:
            self._moved[name] = (position, now)
            return False
        return now - last[1] >= self.s.health_stall_seconds

    async def probe(self) -> HealthProbe:
        problems: list[str] = []
        nats_ok = self.nc.is_connected
        if not nats_ok:
            problems.append("NATS is not connected")
        store: dict[str, Any] = {"kind": self.s.store}
        head = None
        try:
            head = await self.blocking(self.app.head_position)
            store.update(ok=True, head=head)
        except Exception as e:
            store.update(ok=False, error=type(e).__name__)
            problems.append("the event store does not answer")
        js = self.nc.jetstream(timeout=2)
        relay = await self._relay(js, head, problems)
        projection = await self._projection(head, problems)
        ingest = await self._ingest(js, problems)
        components = await self._guard(read_reports(js, self.s), {}, problems, "components")
        if "api" not in components and (
                time.monotonic() - self._started > self.s.health_stall_seconds):
            problems.append("this process's own component report is missing: reports cannot "
                            "be written or read (health bucket, NATS permissions)")
        for name, report in sorted(components.items()):
            if report.get("status") != "ok":
                problems.extend(report.get("problems") or [f"{name} is degraded"])
        integrity = components.get("hash_chain", {}).get("integrity", {})
        quarantine = await self._quarantined(problems)
        dead = await self._guard(self._dead_letters(js, problems), {}, problems, "dead letters")
        return HealthProbe(
            status="ok" if not problems else "degraded",
            nats={"connected": nats_ok, "url": self.nats_url}, store=store, relay=relay,
            projection=projection, ingest=ingest, components=components,
            quarantine=quarantine, dead_letters=dead, integrity=integrity,
            feeds={k: v for k, v in components.get("feeds", {}).items()
                   if k in ("published", "failing_seconds")},
            problems=problems)

    async def _guard(self, call: Awaitable[Any], fallback: Any, problems: list[str],
                     what: str) -> Any:
        try:
            return await asyncio.wait_for(call, TIMEOUT)
        except Exception as e:
            problems.append(f"{what} cannot be read ({type(e).__name__})")
            return fallback

    async def _relay(self, js: Any, head: int | None, problems: list[str]) -> dict[str, Any]:
        try:
            if self.relay is not None:
                pos = self.relay.position
            else:
                _, pos = await asyncio.wait_for(stream_position(js, self.s.stream_events), TIMEOUT)
            lag = await self.blocking(lambda: self._lag(head, pos))
        except Exception as e:
            return {"error": type(e).__name__}
        stalled = lag is not None and self._stalled("relay", pos, lag)
        if stalled:
            problems.append(f"the relay has not moved for {self.s.health_stall_seconds:.0f} s "
                            f"with {lag} events to publish")
        return {"position": pos, "lag": lag, "stalled": stalled}

    async def _projection(self, head: int | None, problems: list[str]) -> dict[str, Any]:
        out: dict[str, Any] = {"name": CARE_PLAN.name}
        try:
            pos = await self.blocking(lambda: self.views.position(CARE_PLAN.name))
        except Exception as e:
            problems.append("the view store does not answer")
            return {**out, "error": type(e).__name__}
        try:
            lag = await self.blocking(lambda: self._lag(head, pos.store_position))
        except Exception as e:
            return {**out, "error": type(e).__name__}
        stalled = lag is not None and self._stalled("projection", pos.stream_seq, lag)
        if stalled:
            problems.append(f"the {CARE_PLAN.name} projection has not moved for "
                            f"{self.s.health_stall_seconds:.0f} s with {lag} events behind")
        return {**out, "position": pos.store_position, "stream_seq": pos.stream_seq, "lag": lag,
                "stalled": stalled}

    async def _ingest(self, js: Any, problems: list[str]) -> dict[str, Any]:
        """Every partition's consumer (one unless ingest is partitioned)."""
        parts: list[dict[str, Any]] = []
        for name in durable_names(self.s):
            try:
                info = await js.consumer_info(self.s.stream_inbound, name)
            except NotFoundError:
                continue
            except Exception as e:
                return {"error": type(e).__name__}
            floor = info.ack_floor.stream_seq or 0
            backlog = (info.num_pending or 0) + (info.num_ack_pending or 0)
            stalled = self._stalled(f"ingest {name}", floor, backlog)
            if stalled:
                problems.append(f"ingest ({name}) has not moved for "
                                f"{self.s.health_stall_seconds:.0f} s with {backlog} "
                                "inbound messages waiting")
            parts.append({"consumer": name, "acknowledged_to": floor, "waiting": backlog,
                          "stalled": stalled})
        if not parts:
            return {"consumer": None}
        if len(parts) == 1 and self.s.ingest_partitions == 1:
            return {k: v for k, v in parts[0].items() if k != "consumer"}
        return {"acknowledged_to": max(p["acknowledged_to"] for p in parts),
                "waiting": sum(p["waiting"] for p in parts),
                "stalled": any(p["stalled"] for p in parts), "partitions": parts}

    async def _quarantined(self, problems: list[str]) -> dict[str, Any]:
        if self.quarantine is None:
            return {}
        q = self.quarantine
        since = datetime.now(UTC) - timedelta(seconds=self.s.health_recent_seconds)
        try:
            count, recent = await self.blocking(lambda: q.since(since, 5))
        except Exception as e:
            return {"error": type(e).__name__}
        if count:
            problems.append(f"{count} events quarantined by projections recently")
        return {"recent": count, "latest": [
            {"projection": e.projection, "stream_seq": e.stream_seq, "position": e.store_position,
             "event_type": e.event_type, "error": e.error, "at": e.quarantined_at}
            for e in recent]}

    async def _dead_letters(self, js: Any, problems: list[str]) -> dict[str, Any]:
        state = (await js.stream_info(self.s.stream_deadletter)).state
        if not state.messages:
            return {"total": 0}
        last = await js.get_msg(self.s.stream_deadletter, seq=state.last_seq)
        at = last.time
        recent = at is not None and (
            datetime.now(UTC) - at).total_seconds() <= self.s.health_recent_seconds
        if recent:
            problems.append("inbound messages were dead-lettered recently")
        return {"total": state.messages, "last_at": at.isoformat() if at else None,
                "recent": recent}
