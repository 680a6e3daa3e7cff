"""The JetStream streams careloop owns, declared idempotently at start-up."""

from __future__ import annotations

import asyncio
import re
import time
from collections.abc import Awaitable, Callable

import nats.errors
import structlog
from nats.js import JetStreamContext
from nats.js.api import (
    AckPolicy,
    ConsumerConfig,
    DeliverPolicy,
    DiscardPolicy,
    RetentionPolicy,
    StorageType,
    StreamConfig,
)
from nats.js.errors import BadRequestError, NotFoundError

from services.settings import Settings

log = structlog.get_logger("careloop.streams")

INBOUND_SUBJECTS = "careloop.in.>"
RECEIPTS_ROOT = "careloop.receipts"
DEADLETTER_ROOT = "careloop.deadletter"
EVENTS_ROOT = "careloop.events"
FEED_ROOT = "careloop.feed"
NAME = re.compile(r"^[A-Za-z0-9_-]{1,64}$")
DAY = 24 * 3600.0


def stream_configs(settings: Settings) -> list[StreamConfig]:
    def stream(name: str, subject: str, max_age: float | None,
               retention: RetentionPolicy = RetentionPolicy.LIMITS) -> StreamConfig:
        return StreamConfig(
            name=name, subjects=[subject], max_age=max_age, storage=StorageType.FILE,
            retention=retention, discard=DiscardPolicy.OLD,
            num_replicas=settings.stream_replicas, duplicate_window=120.0,
            max_msg_size=1024 * 1024,
        )

    return [
        # Inbound facts (PHI) wait here only until ingest has settled them: a work queue
        # drops each message when ingest acknowledges it (stored, refused or dead-lettered).
        stream(settings.stream_inbound, INBOUND_SUBJECTS, None, RetentionPolicy.WORK_QUEUE),
        # Receipts wait here while a partner is down; they read them with their own consumer.
        stream(settings.stream_receipts, f"{RECEIPTS_ROOT}.>", 14 * DAY),
        # Every stored domain event, in store order; the projections read from here.
        stream(settings.stream_events, f"{EVENTS_ROOT}.>", None),
        # Inbound messages that kept failing, with the reason, for the operators (no expiry).
        stream(settings.stream_deadletter, f"{DEADLETTER_ROOT}.>", None),
    ]


SETUP_PATIENCE_SECONDS = 90.0
"""How long start-up keeps asking a busy cluster (electing leaders, or every process of a
stack declaring the same replicated streams at once) before it gives up."""


async def patiently(what: str, setup: Callable[[], Awaitable[None]]) -> None:
    """Run a JetStream set-up step, again after a timeout, until the patience runs out."""
    deadline = time.monotonic() + SETUP_PATIENCE_SECONDS
    while True:
        try:
            return await setup()
        except nats.errors.TimeoutError:
            if time.monotonic() > deadline:
                raise
            log.warning("jetstream_setup_retrying", step=what)
            await asyncio.sleep(1.0)


def unchanged(info: StreamConfig, config: StreamConfig) -> bool:
    """Every setting careloop chose is already so (an update would be a needless proposal
    to every replica, from every process that starts)."""
    have = info.as_dict()
    return all(have.get(k) == v for k, v in config.as_dict().items())


async def ensure_stream(js: JetStreamContext, config: StreamConfig) -> None:
    await patiently(f"stream {config.name}", lambda: _ensure_stream(js, config))


async def _ensure_stream(js: JetStreamContext, config: StreamConfig) -> None:
    try:
        info = await js.stream_info(config.name or "")
    except NotFoundError:
        await js.add_stream(config)
        return
    if info.config.retention != config.retention:
        # Retention cannot change in place. A stream from before the work-queue inbound is
        # replaced once nothing in it is waiting for ingest; otherwise it stays as it is.
        waiting = [c for c in await js.consumers_info(config.name or "")
                   if c.num_pending or c.num_ack_pending]
        if waiting or not info.state.consumer_count:
            log.warning("stream_retention_unchanged", stream=config.name,
                        reason="messages still waiting for ingest" if waiting else "no consumer")
            return
        await js.delete_stream(config.name or "")
        await js.add_stream(config)
        log.info("stream_recreated", stream=config.name, retention=str(config.retention))
        return
    if not unchanged(info.config, config):
        await js.update_stream(config)


async def ensure_streams(js: JetStreamContext, settings: Settings) -> None:
    for config in stream_configs(settings):
        await ensure_stream(js, config)


def checked_name(name: str, what: str) -> str:
    """System and organisation names become subject tokens and stream/consumer names."""
    if not NAME.match(name):
        raise ValueError(f"{what} {name!r}: letters, digits, '-' and '_' only (max 64)")
    return name


def feed_stream(settings: Settings, organisation: str) -> str:
    """Each organisation's feed lives in a stream of its own: everything in it is theirs."""
    return f"{settings.stream_feed}_{checked_name(organisation, 'organisation')}"


def feed_subjects(organisation: str) -> str:
    return f"{FEED_ROOT}.{checked_name(organisation, 'organisation')}.>"


def feed_subject(organisation: str, role: str, client_id: str) -> str:
    """``careloop.feed.<organisation>.<role>.<client id>``: ids only, never client data."""
    return f"{FEED_ROOT}.{organisation}.{role}.{client_id}"


def feed_stream_config(settings: Settings, organisation: str) -> StreamConfig:
    """One message per (role, client): the latest rendering of that client's view. A newer
    rendering replaces the older one, so data a revoked consent covered leaves the stream
    as soon as the view without it is published."""
    return StreamConfig(
        name=feed_stream(settings, organisation), subjects=[feed_subjects(organisation)],
        storage=StorageType.FILE, retention=RetentionPolicy.LIMITS, discard=DiscardPolicy.OLD,
        max_msgs_per_subject=1, num_replicas=settings.stream_replicas, allow_direct=True,
        duplicate_window=120.0, max_msg_size=1024 * 1024)


async def ensure_partner_consumer(js: JetStreamContext, stream: str, name: str,
                                  subject: str) -> None:
    """The durable pull consumer a partner reads through (partners cannot create any)."""
    await patiently(f"consumer {stream}/{name}",
                    lambda: _ensure_partner_consumer(js, stream, name, subject))


async def _ensure_partner_consumer(js: JetStreamContext, stream: str, name: str,
                                   subject: str) -> None:
    try:
        await js.consumer_info(stream, name)
    except NotFoundError:
        try:
            await js.add_consumer(stream, ConsumerConfig(
                durable_name=name, filter_subject=subject, ack_policy=AckPolicy.EXPLICIT,
                deliver_policy=DeliverPolicy.ALL, ack_wait=60, max_ack_pending=10_000))
        except BadRequestError as e:  # created meanwhile by another careloop process
            log.info("partner_consumer_exists", stream=stream, consumer=name, detail=str(e))


def inbound_subject(source_system: str, message_type: str) -> str:
    return f"careloop.in.{source_system}.{message_type}"


def split_inbound_subject(subject: str) -> tuple[str, str]:
    """``careloop.in.acme-ehr.referral.made`` → ('acme-ehr', 'referral.made')."""
    parts = subject.split(".")
    source = parts[2] if len(parts) > 2 else ""
    return source, ".".join(parts[3:])


def receipts_subject(source_system: str) -> str:
    return f"{RECEIPTS_ROOT}.{source_system}"


def deadletter_subject(inbound: str) -> str:
    """``careloop.in.acme-ehr.referral.made`` → ``careloop.deadletter.acme-ehr.referral.made``."""
    prefix = "careloop.in."
    rest = inbound[len(prefix):] if inbound.startswith(prefix) else inbound
    return f"{DEADLETTER_ROOT}.{rest}"
