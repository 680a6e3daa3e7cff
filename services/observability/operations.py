"""One process's observability, started by the runtime: the ops endpoint, the loop
heartbeat and readiness verdict, and the lag gauges of the components it runs.

Readiness: NATS connected and every component of this process reporting ``ok`` (the same
reports the health bucket carries, ``services.health.component_reports``). A process's
readiness never depends on another process: a dead relay does not take the API out of
service (``/health`` on the API says what is wrong across processes).

Lag, sampled every ``SAMPLE_SECONDS`` for the components this process runs: ingest's
unacknowledged inbound messages (this partition's consumer), the relay's store head minus
its position (0 on a standby relay), the projection's events stream head minus its position.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from typing import Any

import structlog
from nats.aio.client import Client as NATS
from nats.js.errors import NotFoundError

from projections.view_store import ViewStore
from services.health.component_reports import Report
from services.ingest.partitions import durable_name
from services.observability import metrics
from services.observability.ops_http import Heartbeat, OpsServer
from services.projector.consumer import CARE_PLAN
from services.relay.outbox_relay import OutboxRelay
from services.settings import Settings
from services.store.care_app import CareLoop

log = structlog.get_logger("careloop.ops")

SAMPLE_SECONDS = 5.0
READY_STALE_SECONDS = 5.0


class Operations:
    def __init__(self, settings: Settings, components: tuple[str, ...], app: CareLoop | None,
                 views: ViewStore | None, nc: NATS | None, relay: OutboxRelay | None,
                 reports: dict[str, Report]) -> None:
        self.s, self.components, self.app, self.views = settings, components, app, views
        self.nc, self.relay, self.reports = nc, relay, reports
        self.heartbeat = Heartbeat()
        self.server: OpsServer | None = None
        self.tasks: list[asyncio.Task[Any]] = []
        self._ready: tuple[float, bool, dict[str, Any]] = (0.0, False, {"reason": "starting"})

    @property
    def url(self) -> str | None:
        return self.server.url if self.server is not None else None

    async def start(self, stop: asyncio.Event) -> Operations:
        if self.s.ops_port is not None:
            self.server = OpsServer(self.s.ops_host, self.s.ops_port, self.heartbeat.verdict,
                                    self.ready).start()
            log.info("ops_endpoint", url=self.server.url)
        self.tasks = [asyncio.create_task(self._beat(stop)),
                      asyncio.create_task(self._sample(stop))]
        return self

    def close(self) -> None:
        if self.server is not None:
            self.server.stop()
        metrics.READY.set(0)

    def ready(self) -> tuple[bool, dict[str, Any]]:
        at, ok, body = self._ready
        age = time.monotonic() - at
        if age > READY_STALE_SECONDS:
            return False, {"reason": f"no verdict for {age:.0f} s (event loop stuck?)"}
        return ok, body

    def _verdict(self) -> tuple[bool, dict[str, Any]]:
        problems: list[str] = []
        if self.nc is not None and not self.nc.is_connected:
            problems.append("NATS is not connected")
        components: dict[str, str] = {}
        for name, report in self.reports.items():
            try:
                status = report().get("status", "ok")
            except Exception as e:
                status = f"report failed: {type(e).__name__}"
            components[name] = status
            metrics.COMPONENT_OK.labels(name).set(1 if status == "ok" else 0)
            if status != "ok":
                problems.append(f"{name} is {status}")
        return not problems, {"components": components, "problems": problems}

    async def _beat(self, stop: asyncio.Event) -> None:
        while not stop.is_set():
            self.heartbeat.tick()
            ok, body = self._verdict()
            self._ready = (time.monotonic(), ok, body)
            metrics.READY.set(1 if ok else 0)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), timeout=1.0)

    async def _sample(self, stop: asyncio.Event) -> None:
        while not stop.is_set():
            try:
                await asyncio.wait_for(self.sample(), timeout=SAMPLE_SECONDS)
            except Exception as e:  # NATS or the store away: the gauges keep their last value
                log.debug("lag_sample_failed", error=type(e).__name__)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), timeout=SAMPLE_SECONDS)

    async def sample(self) -> None:
        """Read every lag this process can see once (also called by tests)."""
        js = self.nc.jetstream(timeout=2) if self.nc is not None else None
        head = None
        if self.app is not None and ("relay" in self.components or "projector" in self.components):
            head = await asyncio.to_thread(self.app.head_position)
            metrics.STORE_HEAD.set(head)
        if self.relay is not None and head is not None:
            # A standby relay (another holds the lease) has no position of its own: 0 here,
            # the active one reports the lag (``max`` across instances).
            active = self.reports.get("relay", dict)().get("role", "active") == "active"
            metrics.RELAY_LAG.set(max(head - self.relay.position, 0) if active else 0)
        if js is not None and self.views is not None and "projector" in self.components:
            views = self.views
            position = await asyncio.to_thread(views.position, CARE_PLAN.name)
            last = (await js.stream_info(self.s.stream_events)).state.last_seq
            metrics.PROJECTOR_PENDING.labels(CARE_PLAN.name).set(
                max(last - position.stream_seq, 0))
        if js is not None and "ingest" in self.components:
            with contextlib.suppress(NotFoundError):  # not subscribed yet
                info = await js.consumer_info(self.s.stream_inbound, durable_name(self.s))
                metrics.INGEST_PENDING.set((info.num_pending or 0) + (info.num_ack_pending or 0))
        metrics.LAG_SAMPLED.set(time.time())
