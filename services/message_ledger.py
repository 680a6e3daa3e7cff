"""The ledger of processed inbound messages: careloop's durable idempotency record.

One ``ProcessedMessage`` per (source system, message_id), saved in the same transaction as
the events the message caused. A redelivery, minutes or years later, finds it and gets
the same receipt; JetStream's de-duplication window is not relied on.
"""

from __future__ import annotations

from uuid import NAMESPACE_URL, UUID, uuid5

from eventsourcing.domain import Aggregate, event

LEDGER_NAMESPACE = uuid5(NAMESPACE_URL, "https://careloop.invalid/message-ledger")


def ledger_id(source_system: str, message_id: str) -> UUID:
    return uuid5(LEDGER_NAMESPACE, f"{source_system}\x1f{message_id}")


class ProcessedMessage(Aggregate):
    @event("Recorded")
    def __init__(
        self,
        id: UUID,
        source_system: str,
        message_id: str,
        message_type: str,
        correlation_id: str,
        event_ids: list[str],
    ) -> None:
        self.source_system = source_system
        self.message_id = message_id
        self.message_type = message_type
        self.correlation_id = correlation_id
        self.event_ids = event_ids
