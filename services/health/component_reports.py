"""Per-component health, shared over NATS: every careloop process reports each of its
components every second to a JetStream key-value bucket (``<consumer_prefix>-health``,
one key per component). ``/health`` reads them all, so a worker process (ingest, relay,
projector, deadlines, hash_chain) that is stuck, degraded or dead is seen by the API
process: a report older than ``health_stall_seconds`` means the component is not running.
A clean stop deletes its keys; a kill leaves them to go stale (degraded until restarted).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import time
from collections.abc import Callable
from typing import Any

import structlog
from nats.js import JetStreamContext
from nats.js.errors import BucketNotFoundError, KeyDeletedError, KeyNotFoundError, NotFoundError
from nats.js.kv import KeyValue

from services.settings import Settings

log = structlog.get_logger("careloop.health")

REPORT_SECONDS = 1.0
NAMES = ("ingest", "relay", "projector", "deadlines", "hash_chain", "feeds", "api")
"""Every component a careloop process can run (one key each; read directly, no listing)."""
Report = Callable[[], dict[str, Any]]
"""A component's own view: ``{"status": "ok"|"degraded", "problems": [...], ...figures}``."""


def bucket_name(settings: Settings) -> str:
    return f"{settings.consumer_prefix}-health".replace(".", "-")


async def open_bucket(js: JetStreamContext, settings: Settings) -> KeyValue:
    try:
        return await js.key_value(bucket_name(settings))
    except BucketNotFoundError:
        return await js.create_key_value(bucket=bucket_name(settings), history=1)


class ComponentReporter:
    def __init__(self, js: JetStreamContext, settings: Settings,
                 reports: dict[str, Report]) -> None:
        self.js, self.settings, self.reports = js, settings, reports

    async def run(self, stop: asyncio.Event) -> None:
        bucket: KeyValue | None = None
        while not stop.is_set():
            try:
                if bucket is None:
                    bucket = await open_bucket(self.js, self.settings)
                for name, report in self.reports.items():
                    body = {"status": "ok", "problems": [], **report(), "at": time.time()}
                    await bucket.put(name, json.dumps(body, default=str).encode())
            except Exception as e:  # NATS away: the reports go stale, which /health shows
                log.debug("health_report_failed", error=type(e).__name__)
                bucket = None
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), timeout=REPORT_SECONDS)
        with contextlib.suppress(Exception):  # stopped on purpose: not a dead component
            bucket = bucket or await open_bucket(self.js, self.settings)
            for name in self.reports:
                await bucket.delete(name)


async def read_reports(js: JetStreamContext, settings: Settings) -> dict[str, dict[str, Any]]:
    """Every component's last report, with its age and a verdict."""
    try:
        bucket = await js.key_value(bucket_name(settings))
    except (BucketNotFoundError, NotFoundError):
        return {}
    found: dict[str, dict[str, Any]] = {}
    now = time.time()
    for name in NAMES:
        with contextlib.suppress(KeyNotFoundError, KeyDeletedError):  # not running anywhere
            entry = await bucket.get(name)
            report = json.loads(entry.value or b"{}")
            age = round(now - float(report.pop("at", 0)), 1)
            report["age_seconds"] = age
            if age > settings.health_stall_seconds:
                report["status"] = "degraded"
                report["problems"] = [*report.get("problems", []),
                                      f"{name} has not reported for {age:.0f} s"]
            found[name] = report
    return found
