"""The JetStream streams careloop owns, declared idempotently at start-up."""

from __future__ import annotations

from nats.js import JetStreamContext
from nats.js.api import DiscardPolicy, RetentionPolicy, StorageType, StreamConfig
from nats.js.errors import NotFoundError

from services.settings import Settings

INBOUND_SUBJECTS = "careloop.in.>"
RECEIPTS_ROOT = "careloop.receipts"
DEADLETTER_ROOT = "careloop.deadletter"
EVENTS_ROOT = "careloop.events"
DAY = 24 * 3600.0


def stream_configs(settings: Settings) -> list[StreamConfig]:
    def stream(name: str, subject: str, max_age: float | None) -> StreamConfig:
        return StreamConfig(
            name=name, subjects=[subject], max_age=max_age, storage=StorageType.FILE,
            retention=RetentionPolicy.LIMITS, discard=DiscardPolicy.OLD,
            num_replicas=settings.stream_replicas, duplicate_window=120.0,
            max_msg_size=1024 * 1024,
        )

    return [
        # Inbound facts wait here while careloop is down; kept 14 days for investigation.
        stream(settings.stream_inbound, INBOUND_SUBJECTS, 14 * DAY),
        # Receipts wait here while a partner is down; they read them with their own consumer.
        stream(settings.stream_receipts, f"{RECEIPTS_ROOT}.>", 14 * DAY),
        # Every stored domain event, in store order; the projections read from here.
        stream(settings.stream_events, f"{EVENTS_ROOT}.>", None),
        # Inbound messages that kept failing, with the reason, for the operators (no expiry).
        stream(settings.stream_deadletter, f"{DEADLETTER_ROOT}.>", None),
    ]


async def ensure_streams(js: JetStreamContext, settings: Settings) -> None:
    for config in stream_configs(settings):
        try:
            await js.stream_info(config.name or "")
        except NotFoundError:
            await js.add_stream(config)
        else:
            await js.update_stream(config)


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
