"""Per-component health, shared over NATS: every careloop process reports each of its
components every second to a JetStream key-value bucket (``<consumer_prefix>-health``,
key ``<component>.<instance>``: two relays or APIs never overwrite each other). ``/health``
reads them all, so a worker process (ingest, relay, projector, deadlines, hash_chain) that
is stuck, degraded or dead is seen by the API process. Reports are grouped by component
(each ingest partition is a component of its own, ``ingest-<i>-of-<n>``): a component is
running when one of its instances reported within ``health_stall_seconds``; a standby
(``role: standby``, waiting for a lease) is fine; a component none of whose instances
reports is not running (degraded). An instance that stopped reporting while another of its
component runs is gone (replaced) and its key is removed after a while.
A clean stop deletes its keys; a kill leaves them to go stale.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import re
import time
from collections.abc import Callable
from typing import Any

import structlog
from nats.js import JetStreamContext
from nats.js.errors import (
    BucketNotFoundError,
    KeyDeletedError,
    KeyNotFoundError,
    NoKeysError,
    NotFoundError,
)
from nats.js.kv import KeyValue

from services.settings import Settings

log = structlog.get_logger("careloop.health")

REPORT_SECONDS = 1.0
NAMES = ("ingest", "relay", "projector", "deadlines", "hash_chain", "feeds", "api")
"""Every component a careloop process can run."""
Report = Callable[[], dict[str, Any]]
"""A component's own view: ``{"status": "ok"|"degraded", "problems": [...], ...figures}``."""


def bucket_name(settings: Settings) -> str:
    return f"{settings.consumer_prefix}-health".replace(".", "-")


async def open_bucket(js: JetStreamContext, settings: Settings) -> KeyValue:
    try:
        return await js.key_value(bucket_name(settings))
    except BucketNotFoundError:
        return await js.create_key_value(bucket=bucket_name(settings), history=1,
                                         replicas=settings.stream_replicas)


GONE_AFTER = 10
"""A stale instance beside a live one of its component is removed after this many stall
periods (a replaced process: restarted under a new instance id)."""


def _key_part(text: str) -> str:
    return re.sub(r"[^-_=a-zA-Z0-9]", "_", text) or "_"


class ComponentReporter:
    def __init__(self, js: JetStreamContext, settings: Settings,
                 reports: dict[str, Report], instance: str = "") -> None:
        self.js, self.settings, self.reports = js, settings, reports
        self.instance = _key_part(instance or "default")

    def _key(self, name: str) -> str:
        return f"{_key_part(name)}.{self.instance}"

    async def run(self, stop: asyncio.Event) -> None:
        bucket: KeyValue | None = None
        while not stop.is_set():
            try:
                if bucket is None:
                    bucket = await open_bucket(self.js, self.settings)
                for name, report in self.reports.items():
                    body = {"status": "ok", "problems": [], **report(), "at": time.time()}
                    await bucket.put(self._key(name), json.dumps(body, default=str).encode())
            except Exception as e:  # NATS away: the reports go stale, which /health shows
                log.debug("health_report_failed", error=type(e).__name__)
                bucket = None
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), timeout=REPORT_SECONDS)
        with contextlib.suppress(Exception):  # stopped on purpose: not a dead component
            bucket = bucket or await open_bucket(self.js, self.settings)
            for name in self.reports:
                await bucket.delete(self._key(name))


def _component(key: str) -> str | None:
    name = key.split(".", 1)[0]
    return name if name.split("-", 1)[0] in NAMES else None  # not restart-guard keys


async def read_reports(js: JetStreamContext, settings: Settings) -> dict[str, dict[str, Any]]:
    """Every component's last report (its active instance's), with its age and a verdict."""
    try:
        bucket = await js.key_value(bucket_name(settings))
        keys = await bucket.keys()
    except (BucketNotFoundError, NotFoundError, NoKeysError):
        return {}
    grouped: dict[str, list[tuple[str, dict[str, Any]]]] = {}
    now = time.time()
    for key in keys:
        name = _component(key)
        if name is None:
            continue
        with contextlib.suppress(KeyNotFoundError, KeyDeletedError):  # stopped meanwhile
            entry = await bucket.get(key)
            report = json.loads(entry.value or b"{}")
            report["age_seconds"] = round(now - float(report.pop("at", 0)), 1)
            grouped.setdefault(name, []).append((key, report))
    return {name: await _verdict(bucket, name, found, settings.health_stall_seconds)
            for name, found in sorted(grouped.items())}


async def _verdict(bucket: KeyValue, name: str, found: list[tuple[str, dict[str, Any]]],
                   stall: float) -> dict[str, Any]:
    live = [r for _, r in found if r["age_seconds"] <= stall]
    if not live:
        report = min((r for _, r in found), key=lambda r: r["age_seconds"])
        age = report["age_seconds"]
        report["status"] = "degraded"
        report["problems"] = [*report.get("problems", []),
                              f"{name} has not reported for {age:.0f} s"]
        return report
    for key, r in found:  # replaced instances
        if r["age_seconds"] > GONE_AFTER * stall:
            with contextlib.suppress(Exception):
                await bucket.delete(key)
    live.sort(key=lambda r: r.get("role") == "standby")
    report = dict(live[0])
    if len(live) > 1:
        report["instances"] = len(live)
        report["standbys"] = sum(r.get("role") == "standby" for r in live)
        troubled = [r for r in live if r.get("status") != "ok"]
        if troubled:
            report["status"] = "degraded"
            report["problems"] = [p for r in troubled for p in r.get("problems", [])]
    return report
