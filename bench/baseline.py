"""The naive ingest careloop is compared with: one message, one transaction, one synchronous
publish of its events, one receipt, one ack. Same contracts, domain, store and NATS."""

from __future__ import annotations

import asyncio
from typing import Any
from uuid import UUID

from eventsourcing.domain import Aggregate
from nats.js import JetStreamContext

from contracts.v1.parsing import Rejection, parse_message
from services.bus.streams import (
    EVENTS_ROOT,
    INBOUND_SUBJECTS,
    receipts_subject,
    split_inbound_subject,
)
from services.commands.registry import execute
from services.ingest import receipts
from services.relay.outbound_events import is_published, subject_of, to_outbound
from services.settings import Settings
from services.store.care_app import CareLoop


class NaiveIngest:
    def __init__(self, app: CareLoop, js: JetStreamContext, settings: Settings) -> None:
        self.app, self.js, self.settings = app, js, settings
        self.position = 0
        self.processed = 0

    def _client_of(self, aggregate_id: UUID) -> UUID | None:
        found = self.app.find(aggregate_id, Aggregate)
        client_id = getattr(found, "client_id", None)
        return client_id if isinstance(client_id, UUID) else None

    def _apply(self, raw_data: bytes, subject: str) -> tuple[Any, list[Any]]:
        source, message_type = split_inbound_subject(subject)
        try:
            message = parse_message(raw_data, source, message_type)
        except Rejection as rejection:
            return receipts.rejected_input(rejection, source, message_type, None), []
        outcome = execute(self.app, message)
        notes = self.app.recorder.select_notifications(self.position, 100,
                                                       inclusive_of_start=False)
        events = []
        for note in notes:
            self.position = note.id
            if is_published(note.topic):
                events.append(to_outbound(self.app.mapper.to_domain_event(note), note.id,
                                          self._client_of))
        return receipts.accepted(message, outcome, None), events

    async def run(self, count: int) -> None:
        s = self.settings
        sub = await self.js.pull_subscribe(INBOUND_SUBJECTS, durable=f"{s.consumer_prefix}-naive",
                                           stream=s.stream_inbound)
        while self.processed < count:
            for raw in await sub.fetch(1, timeout=5):
                receipt, events = await asyncio.to_thread(self._apply, raw.data, raw.subject)
                for event in events:
                    await self.js.publish(subject_of(EVENTS_ROOT, event),
                                          event.model_dump_json().encode(), stream=s.stream_events)
                await self.js.publish(receipts_subject(receipt.source_system),
                                      receipt.model_dump_json().encode(), stream=s.stream_receipts)
                await raw.ack()
                self.processed += 1
        await sub.unsubscribe()
