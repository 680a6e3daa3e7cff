"""Only one process at a time does a job that must be single (the relay, a projection, an
ingest partition, the hash-chain keeper, the deadline watcher): it holds a lease, the others
wait as standbys and one takes over within seconds when the holder dies.

A lease is a key in the JetStream key-value bucket ``<consumer_prefix>-leases``, whose
entries expire ``LEASE_SECONDS`` after they were written (the bucket's max age). The holder
writes its name with ``create`` (refused while someone else's entry lives) and renews every
``RENEW_SECONDS`` with ``update(last=revision)``, which fails as soon as the entry expired
or someone else wrote it: then the holder stops the job at once. A clean stop deletes the
key, so a standby takes over without waiting for the expiry. JetStream is the referee, so no
clock is compared between processes; the jobs keep their own guards for the moment of
overlap (the relay's expected last sequence, the ingest consumer's recreation).
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import socket
import time
import uuid
from collections.abc import Callable, Coroutine
from typing import Any

import structlog
from nats.js import JetStreamContext
from nats.js.errors import (
    BadRequestError,
    BucketNotFoundError,
    KeyNotFoundError,
    KeyWrongLastSequenceError,
)
from nats.js.kv import KeyValue

from services.bus.waiting import sleep_or_stop
from services.settings import Settings

log = structlog.get_logger("careloop.lease")

LEASE_SECONDS = 3.0
"""A holder that has not renewed for this long has lost its lease."""
RENEW_SECONDS = 1.0
"""How often the holder renews, and how often a standby asks."""
Job = Callable[[asyncio.Event], Coroutine[Any, Any, None]]
"""A component's ``run(stop)``: returns soon after ``stop`` is set."""


def instance_id(settings: Settings) -> str:
    """This process's name in leases and health reports: the configured one, or host and
    process id (a restarted process is a new holder, so it waits for the old lease)."""
    return settings.instance_id or f"{socket.gethostname()}-{os.getpid()}-{uuid.uuid4().hex[:4]}"


def bucket_name(settings: Settings) -> str:
    return f"{settings.consumer_prefix}-leases".replace(".", "-")


async def open_leases(js: JetStreamContext, settings: Settings,
                      ttl: float = LEASE_SECONDS) -> KeyValue:
    name = bucket_name(settings)
    try:
        return await js.key_value(name)
    except BucketNotFoundError:
        try:
            # As many replicas as the streams: leases outlive the loss of a node.
            return await js.create_key_value(bucket=name, history=1, ttl=ttl,
                                             replicas=settings.stream_replicas)
        except BadRequestError:  # another process created it first
            return await js.key_value(name)


class Lease:
    def __init__(self, bucket: KeyValue, key: str, holder: str,
                 ttl: float = LEASE_SECONDS) -> None:
        self.bucket, self.key, self.holder, self.ttl = bucket, key, holder, ttl
        self.revision: int | None = None
        self._valid_until = 0.0

    @property
    def held(self) -> bool:
        return self.revision is not None

    async def acquire(self) -> bool:
        """True when the lease is ours now (nobody else holds a live one)."""
        sent = time.monotonic()
        try:
            self.revision = await self.bucket.create(self.key, self.holder.encode())
        except (KeyWrongLastSequenceError, KeyNotFoundError):
            # Held by someone; or it expired while nats-py was checking for a deleted
            # entry (its ``create`` then raises not-found): ask again next time.
            return False
        self._valid_until = sent + self.ttl
        return True

    async def renew(self) -> bool:
        """False when the lease is lost: expired, taken, or not renewable in time."""
        if self.revision is None:
            return False
        sent = time.monotonic()
        try:
            self.revision = await self.bucket.update(self.key, self.holder.encode(),
                                                     last=self.revision)
        except KeyWrongLastSequenceError:
            self.revision = None
            return False
        except Exception as e:  # NATS away: still ours until the entry may have expired
            log.warning("lease_renew_failed", key=self.key, error=type(e).__name__)
            if time.monotonic() + RENEW_SECONDS >= self._valid_until:
                self.revision = None
                return False
            return True
        self._valid_until = sent + self.ttl
        return True

    async def release(self) -> None:
        if self.revision is not None:
            with contextlib.suppress(Exception):
                await self.bucket.delete(self.key, last=self.revision)
            self.revision = None

    async def current_holder(self) -> str | None:
        try:
            entry = await self.bucket.get(self.key)
        except Exception:
            return None
        return entry.value.decode() if entry.value else None


async def run_while_held(lease: Lease, stop: asyncio.Event, job: Job) -> None:
    """Run ``job`` only while holding ``lease``: wait as a standby, run when it is ours,
    stop the job the moment the lease is lost (and wait for it again)."""
    while not stop.is_set():
        try:
            taken = await lease.acquire()
        except Exception as e:  # NATS away: ask again
            log.debug("lease_acquire_failed", key=lease.key, error=type(e).__name__)
            taken = False
        if not taken:
            await sleep_or_stop(stop, RENEW_SECONDS)
            continue
        log.info("lease_taken", key=lease.key, holder=lease.holder)
        inner = asyncio.Event()
        task = asyncio.create_task(job(inner))
        try:
            while not stop.is_set() and not task.done():
                await sleep_or_stop(stop, RENEW_SECONDS)
                if not stop.is_set() and not await lease.renew():
                    log.warning("lease_lost", key=lease.key, holder=lease.holder, alert=True)
                    break
        finally:
            inner.set()
            try:
                await task
            except Exception:
                log.exception("leased_job_failed", key=lease.key)
            await lease.release()
        if not stop.is_set():
            await sleep_or_stop(stop, RENEW_SECONDS)



class Singletons:
    """Starts this process's single-at-a-time jobs, each under its own lease."""

    def __init__(self, js: JetStreamContext, settings: Settings, holder: str,
                 stop: asyncio.Event) -> None:
        self.js, self.settings, self.holder, self.stop = js, settings, holder, stop
        self.leases: dict[str, Lease] = {}
        self._bucket: KeyValue | None = None

    async def start(self, key: str, job: Job) -> asyncio.Task[None]:
        if self._bucket is None:
            self._bucket = await open_leases(self.js, self.settings)
        lease = self.leases[key] = Lease(self._bucket, key, self.holder)
        return asyncio.create_task(run_while_held(lease, self.stop, job))

    def role(self, key: str) -> dict[str, str]:
        """For a component's health report: active (holding its lease) or standby."""
        lease = self.leases.get(key)
        return {"role": "active" if lease is None or lease.held else "standby"}
