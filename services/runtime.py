"""Starts and stops careloop's parts in one process: any subset of ingest, relay,
projector and api, with an embedded nats-server when no ``NATS_URL`` is given."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import socket
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

import nats
import structlog
import uvicorn
from faststream.nats import NatsBroker
from nats.aio.client import Client as NATS

from projections.view_store import ViewStore
from services.api.access_tokens import TokenKeys, secret_for
from services.api.care_queries import CareQueries
from services.api.disclosure_recorder import DisclosureRecorder
from services.api.http_app import HealthProbe, authenticator, create_http_app
from services.api.nats_queries import NatsQueries
from services.api.view_cache import CachedViews
from services.audit.hash_chain import HashChain
from services.audit.hash_chain_keeper import HashChainKeeper
from services.audit.hash_chain_tables import open_chain_table
from services.audit.http_routes import create_audit_router
from services.bus.connection import (
    broker_security,
    check_credentials,
    connect_options,
    report_error,
    server_list,
)
from services.bus.embedded_auth import embedded_registry, joining_embedded, prepare
from services.bus.embedded_nats import EmbeddedNats, free_port
from services.bus.lease import Singletons, instance_id
from services.bus.partner_access import ensure_partner_access, feed_organisations
from services.bus.streams import ensure_streams
from services.commands.deadline_watcher import DeadlineWatcher
from services.feeds.publisher import FeedPublisher
from services.health.component_reports import ComponentReporter, Report
from services.health.probe import HealthChecks
from services.ingest.consumer import Ingest
from services.ingest.partitions import check_partition, lease_key
from services.observability.access_log import instrument as instrument_http
from services.observability.operations import Operations
from services.partners.demo_registry import with_registry
from services.partners.registry import (
    PartnerRegistry,
    RegistryNotConfigured,
    load_partner_registry,
)
from services.projector.consumer import CARE_PLAN, Projector
from services.projector.quarantine import Quarantine, open_quarantine
from services.relay.outbox_relay import OutboxRelay
from services.settings import Settings, private_files
from services.store.care_app import CareLoop
from services.store.store_setup import open_stores
from services.web.setup import mount_web

log = structlog.get_logger("careloop")

FEEDS_STUCK_SECONDS = 30.0
"""Feeds failing this long without a batch going through turn /health degraded."""
COMPONENTS = ("ingest", "relay", "projector", "deadlines", "hash_chain", "feeds", "api")
HEALTH_PROBE_SECONDS = 3.0
"""A dependency that does not answer a health probe within this long counts as down: while
the database is away its pool waits up to 30 s for a connection, and /health must not."""


class _EmbeddedUvicorn(uvicorn.Server):
    @contextmanager
    def capture_signals(self) -> Iterator[None]:
        yield  # the runtime owns signals and stops the server itself


@dataclass
class Runtime:
    settings: Settings
    components: tuple[str, ...] = COMPONENTS
    nats_url: str = ""
    http_url: str | None = None
    app: CareLoop | None = None
    views: ViewStore | None = None
    relay: OutboxRelay | None = None
    ingest: Ingest | None = None
    deadlines: DeadlineWatcher | None = None
    stop_event: asyncio.Event = field(default_factory=asyncio.Event)
    _nats: EmbeddedNats | None = None
    _nc: NATS | None = None
    _broker: NatsBroker | None = None
    _http: _EmbeddedUvicorn | None = None
    _tasks: list[asyncio.Task[Any]] = field(default_factory=list)
    token_secret: str | None = None
    disclosures: DisclosureRecorder | None = None
    view_cache: CachedViews | None = None
    _nats_queries: NatsQueries | None = None
    _closers: list[Callable[[], None]] = field(default_factory=list)
    feeds: FeedPublisher | None = None
    _recorders: list[DisclosureRecorder] = field(default_factory=list)
    _probes: ThreadPoolExecutor = field(
        default_factory=lambda: ThreadPoolExecutor(4, thread_name_prefix="careloop-health"))
    quarantine: Quarantine | None = None
    _checks: HealthChecks | None = None
    _reports: dict[str, Report] = field(default_factory=dict)
    ops: Operations | None = None
    singletons: Singletons | None = None

    async def _probe(self, check: Callable[[], Any]) -> Any:
        """Run a blocking health check on the probes' own threads, bounded in time."""
        loop = asyncio.get_running_loop()
        return await asyncio.wait_for(loop.run_in_executor(self._probes, check),
                                      HEALTH_PROBE_SECONDS)

    async def start(self) -> Runtime:
        """Start the components; if one cannot start, stop what did (nothing left running)."""
        self.settings = s = with_registry(self.settings)
        if "ingest" in self.components:
            load_partner_registry(s)  # no registry, no ingest: refuse before starting anything
            check_partition(s)
        try:
            return await self._start()
        except BaseException:
            with contextlib.suppress(Exception):
                await self.stop()
            raise

    async def _start(self) -> Runtime:
        s = self.settings
        registry: PartnerRegistry | None
        if s.nats_url:
            s = self.settings = joining_embedded(s)  # a component beside `careloop serve`
            self.nats_url = s.nats_url or ""
            registry = load_partner_registry(s) if s.partners_file else None
        else:  # closed like production: users, permissions, encrypted JetStream files
            private_files(s.data_dir)
            config, s = await asyncio.to_thread(prepare, s)
            self.settings = s
            registry = embedded_registry(s)
            self._nats = EmbeddedNats(s.data_dir / "nats", config=config)
            await asyncio.to_thread(self._nats.start)
            self.nats_url = self._nats.url
        await check_credentials(self.nats_url, s)
        app, views = await asyncio.to_thread(open_stores, s)
        self.app, self.views = app, views
        self._nc = await nats.connect(
            server_list(self.nats_url), max_reconnect_attempts=-1, reconnect_time_wait=1, connect_timeout=5,
            **connect_options(s),
        )
        js = self._nc.jetstream(timeout=10)
        await ensure_streams(js, s)
        if registry is not None:
            await ensure_partner_access(js, s, registry)
        # One active relay, projector per projection, ingest per partition, deadline watcher,
        # hash-chain keeper and feed publisher: each runs under a lease (``bus.lease``).
        self.singletons = one = Singletons(js, s, instance_id(s), self.stop_event)

        if "relay" in self.components:
            self.relay = OutboxRelay(self.app, js, s.stream_events, s.relay_poll_seconds)
            self._tasks.append(await one.start("relay", self.relay.run))
        if "projector" in self.components or "api" in self.components:
            self.quarantine = await asyncio.to_thread(open_quarantine, s, self.views)
            self._closers.append(self.quarantine.close)
        if "relay" in self.components:
            relay = self.relay
            self._reports["relay"] = lambda: {"position": relay.position if relay else 0,
                                              **one.role("relay")}
        if "projector" in self.components:
            projector = Projector(js, self.views, s.stream_events, s.consumer_prefix,
                                  quarantine=self.quarantine)
            key = f"projector.{CARE_PLAN.name}"
            self._tasks.append(await one.start(key, projector.run))
            self._reports["projector"] = lambda: {"quarantined": projector.quarantined,
                                                  **one.role(key)}
        if "deadlines" in self.components:
            self.deadlines = DeadlineWatcher(
                self.app, self.views, s.deadline_check_seconds,
                on_committed=self.relay.wake.set if self.relay else None)
            self._tasks.append(await one.start("deadlines", self.deadlines.run))
        if "hash_chain" in self.components:
            table = await asyncio.to_thread(open_chain_table, s)
            self._closers.append(table.close)
            keeper = HashChainKeeper(HashChain(self.app, table), s.hash_chain_seconds,
                                     s.hash_chain_verify_seconds)
            self._tasks.append(await one.start("hash_chain", keeper.run))
            self._reports["hash_chain"] = lambda: {**keeper.report(), **one.role("hash_chain")}
        if ("feeds" in self.components and s.feeds and registry is not None
                and feed_organisations(registry)):
            recorder = DisclosureRecorder(self.app, s.disclosure_batch_ms)
            self.feeds = FeedPublisher(js, self.views, s, registry, recorder)
            self._recorders.append(recorder)
            self._tasks.append(await one.start("feeds", self.feeds.run))
            self._reports["feeds"] = self._feeds_report
        if "ingest" in self.components:
            self._broker = NatsBroker(
                server_list(self.nats_url), max_reconnect_attempts=-1,
                logger=logging.getLogger("faststream"), log_level=logging.DEBUG,
                security=broker_security(s), error_cb=report_error,
            )
            wake = self.relay.wake.set if self.relay else (lambda: None)
            self.ingest = Ingest(self.app, self._broker, s, on_committed=wake)
            await self._broker.start()
            self._tasks.append(await one.start(lease_key(s), self.ingest.run))
            ingest, part = self.ingest, lease_key(s).replace(".", "-")
            self._reports["ingest" if s.ingest_partitions == 1 else part] = lambda: {
                "processed": ingest.processed, "dead_lettered": ingest.dead_lettered,
                **one.role(lease_key(s))}
        if "deadlines" in self.components:
            self._reports["deadlines"] = lambda: one.role("deadlines")
        if "api" in self.components:
            await self._start_http()
            self._reports["api"] = dict
            self._checks = HealthChecks(s, self.app, self.views, self._nc, None,
                                        self.quarantine, self._probe, self.nats_url)
            self._tasks.append(asyncio.create_task(self._sample_health()))
        if self._reports:
            reporter = ComponentReporter(js, s, self._reports, one.holder)
            self._tasks.append(asyncio.create_task(reporter.run(self.stop_event)))
        self.ops = await Operations(s, self.components, self.app, self.views, self._nc,
                                    self.relay, self._reports).start(self.stop_event)
        self._tasks.extend(self.ops.tasks)
        self._closers.append(self.ops.close)
        log.info("careloop_started", components=list(self.components), nats=self.nats_url,
                 http=self.http_url, store=s.store)
        return self

    async def _start_http(self) -> None:
        s = self.settings
        assert self.views is not None and self.app is not None and self._nc is not None
        if s.token_secret or self._nats is not None or not s.token_jwks_url:
            self.token_secret = secret_for(s.token_secret, s.data_dir,
                                           create=self._nats is not None)
        keys = TokenKeys(self.token_secret, s.token_jwks_url, s.token_issuer, s.token_audience)
        self.disclosures = DisclosureRecorder(self.app, s.disclosure_batch_ms)
        self.disclosures.start()
        self.view_cache = CachedViews(self.views, s.view_cache_poll_ms / 1000)
        self.view_cache.start()
        try:  # treating providers (who may break the glass) are named in the registry
            treating = load_partner_registry(s).treating_providers
        except RegistryNotConfigured:
            log.warning("no_partner_registry", effect="nobody may break the glass")
            treating = frozenset()
        queries = CareQueries(self.app, self.view_cache, self.disclosures,
                              s.break_glass_minutes, treating)
        self._nats_queries = NatsQueries(self._nc, queries, keys, s.token_issuer)
        await self._nats_queries.start()
        audit = create_audit_router(
            self.app, s, authenticator(keys, s.token_issuer, self.disclosures),
            queries)
        api = create_http_app(queries, keys, self.health, s.token_issuer, audit)
        instrument_http(api, s.access_log, s.metrics_token)
        # Embedded mode takes another port when the configured one is busy (and says which).
        port = free_port(s.http_port, s.http_host) if self._nats else s.http_port
        # IPPROTO_TCP explicitly: asyncio sets TCP_NODELAY only on sockets whose proto says
        # TCP, and without it every keep-alive request waits ~40 ms (Nagle, delayed ACK).
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM, socket.IPPROTO_TCP)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind((s.http_host, port))
        host = "127.0.0.1" if s.http_host in ("0.0.0.0", "") else s.http_host
        self.http_url = f"http://{host}:{sock.getsockname()[1]}"
        mount_web(api, queries, s, self.token_secret, embedded=self._nats is not None,
                  http_url=self.http_url)
        config = uvicorn.Config(api, log_config=None, access_log=False, lifespan="off")
        self._http = _EmbeddedUvicorn(config)
        self._tasks.append(asyncio.create_task(self._http.serve(sockets=[sock])))
        while not self._http.started:
            await asyncio.sleep(0.02)

    def _feeds_report(self) -> dict[str, Any]:
        assert self.feeds is not None
        failing = round(self.feeds.stuck_for(), 1)
        report: dict[str, Any] = {"published": self.feeds.published, "failing_seconds": failing}
        if failing >= FEEDS_STUCK_SECONDS:
            report.update(status="degraded",
                          problems=[f"partner feeds have failed for {failing:.0f} s"])
        return report

    async def health(self) -> HealthProbe:
        assert self._checks is not None, "health is served by the api component"
        return await self._checks.probe()

    async def _sample_health(self) -> None:
        """Sample every second, so a stall is measured even when nobody asks /health."""
        while not self.stop_event.is_set():
            try:
                probe = await self.health()
                if probe.status != "ok":
                    log.warning("health_degraded", alert=True, problems=probe.problems[:10])
            except Exception as e:
                log.debug("health_sample_failed", error=type(e).__name__)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self.stop_event.wait(), timeout=1.0)

    async def stop(self) -> None:
        self.stop_event.set()
        if self.ingest is not None:  # its last batch settled and its subscriptions gone
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self.ingest.stopped.wait(), timeout=10)
        if self._broker is not None:
            try:
                await self._broker.stop()
            except Exception as e:  # NATS already gone: nothing left to drain
                log.warning("broker_stop_failed", error=type(e).__name__)
        if self._nats_queries is not None:
            with contextlib.suppress(Exception):
                await self._nats_queries.stop()
        if self._http is not None:
            self._http.should_exit = True
        for task in self._tasks:
            try:
                await asyncio.wait_for(task, timeout=10)
            except (TimeoutError, asyncio.CancelledError):
                task.cancel()
            except Exception:
                log.exception("component_stop_failed")
        for recorder in [*self._recorders, *([self.disclosures] if self.disclosures else [])]:
            await recorder.stop()
        if self.view_cache is not None:
            await self.view_cache.stop()
        if self._nc is not None:
            try:
                await self._nc.close()
            except Exception as e:
                log.warning("nats_close_failed", error=type(e).__name__)
        for close in self._closers:
            await asyncio.to_thread(close)
        if self.app is not None:
            await asyncio.to_thread(self.app.close)
        if self.views is not None:
            await asyncio.to_thread(self.views.close)
        if self._nats is not None:
            await asyncio.to_thread(self._nats.stop)
        self._probes.shutdown(wait=False, cancel_futures=True)
        log.info("careloop_stopped")
