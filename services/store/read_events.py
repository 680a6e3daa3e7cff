"""Reads of a client's record as stored ``Disclosure.Recorded`` events, built in bulk.

``Disclosure.record`` makes one aggregate per read and the library's mapper walks each
event's values to encode them; at thousands of reads a second that costs more than the
insert. Here the event's stored form is written directly: the same topic, originator
(version 1, a created aggregate) and JSON state the mapper would write (the library's
``uuid_hex`` and ``datetime_iso`` encodings, careloop's provenance and actor), then the
app's own compressor and cipher. ``tests/integration/test_read_events.py`` checks that the
library reads each one back as the event ``Disclosure.record`` makes.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import datetime
from typing import Any, NamedTuple
from uuid import UUID

from eventsourcing.persistence import Mapper, StoredEvent
from eventsourcing.utils import get_topic

from domain.disclosure import Disclosure

TOPIC = get_topic(Disclosure.Recorded)  # type: ignore[attr-defined]
ORIGINATOR_TOPIC = get_topic(Disclosure)
_encode = json.JSONEncoder(separators=(",", ":"), ensure_ascii=False).encode


class ReadFact(NamedTuple):
    """One read: who, which view of which client, why, how, when."""

    disclosure_id: UUID
    client_id: UUID
    viewer_id: str
    viewer_role: str
    viewer_organisation: str
    view: str
    purpose: str
    break_glass_reason: str | None
    channel: str
    read_at: datetime
    correlation_id: str | None = None


def _uuid(value: UUID) -> dict[str, str]:
    return {"_type_": "uuid_hex", "_data_": value.hex}


def _when(value: datetime) -> dict[str, str]:
    return {"_type_": "datetime_iso", "_data_": value.isoformat()}


def state_of(fact: ReadFact) -> dict[str, Any]:
    """The event's state as the library's JSON transcoder writes it."""
    read_at = _when(fact.read_at)
    message_id = f"read-{fact.disclosure_id}"
    return {
        "timestamp": read_at,
        "originator_topic": ORIGINATOR_TOPIC,
        "client_id": _uuid(fact.client_id),
        "viewer_id": fact.viewer_id,
        "viewer_role": fact.viewer_role,
        "viewer_organisation": fact.viewer_organisation,
        "view": fact.view,
        "purpose": fact.purpose,
        "break_glass_reason": fact.break_glass_reason,
        "channel": fact.channel,
        "read_at": read_at,
        "provenance": {"_type_": "careloop_provenance", "_data_": {
            "actor": {"_type_": "careloop_actor", "_data_": {
                "id": fact.viewer_id, "role": fact.viewer_role,
                "organisation": fact.viewer_organisation}},
            "occurred_at": read_at,
            "source_system": f"careloop-{fact.channel}",
            "message_id": message_id,
            "correlation_id": fact.correlation_id or message_id,
        }},
    }


def stored_reads(mapper: Mapper[UUID], facts: Sequence[ReadFact]) -> list[StoredEvent]:
    out = []
    for fact in facts:
        state = _encode(state_of(fact)).encode("utf8")
        if mapper.compressor:
            state = mapper.compressor.compress(state)
        if mapper.cipher:
            state = mapper.cipher.encrypt(state)
        out.append(StoredEvent(originator_id=fact.disclosure_id, originator_version=1,
                               topic=TOPIC, state=state))
    return out
