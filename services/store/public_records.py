"""Stored events straight to their public dicts, for the relay and for replays.

The general way (``to_outbound``) decodes each stored event into a domain event object
(the library's JSON decoder calls back into Python for every nested value), builds a
pydantic ``OutboundEvent`` and dumps it to JSON types again: most of a rebuild's time.
Here the decrypted state is parsed once by the C JSON parser and its few typed values
(``uuid_hex``, ``datetime_iso``, careloop's dates, provenance and actor) are rewritten
into the strings the public dict holds.

It checks itself: the first ``CHECKED`` events of every topic are also converted the
general way and compared; a topic that ever differs goes the general way from then on,
and so does any event stored under an older class version (it needs upcasting), carrying a
type this module does not know, or without provenance. A rebuilt view is therefore fed
exactly what the live projector was fed.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any
from uuid import UUID

import structlog
from eventsourcing.persistence import Notification
from eventsourcing.utils import resolve_topic

from contracts.v1.events import event_id
from services.relay.outbound_events import _ENVELOPE_FIELDS, _snake, to_outbound
from services.store.care_app import CareLoop
from services.store.event_seal import CheckedMapper, DamagedEvent

log = structlog.get_logger("careloop.public_records")

Record = dict[str, Any]
CHECKED = 50
"""Events per topic converted both ways and compared before the fast way is trusted."""


class _Unknown(Exception):
    """A value this module does not convert: use the general way."""


def _plain(value: Any) -> Any:
    if isinstance(value, dict):
        kind = value.get("_type_")
        if kind is None:
            return {k: _plain(v) for k, v in value.items()}
        data: Any = value.get("_data_")
        if kind == "uuid_hex" and len(data) == 32:  # str(UUID(hex=data)), without the object
            return f"{data[:8]}-{data[8:12]}-{data[12:16]}-{data[16:20]}-{data[20:]}"
        if kind == "datetime_iso":
            return data[:-6] + "Z" if data.endswith("+00:00") else data
        if kind == "careloop_date":
            return data
        raise _Unknown(kind)
    if isinstance(value, list):
        return [_plain(v) for v in value]
    return value


class PublicRecords:
    """``(note, client_of) → public dict`` for published stored events, fast when it can."""

    def __init__(self, app: CareLoop) -> None:
        self.app = app
        self._types: dict[str, tuple[str, str, int] | None] = {}
        """topic → (aggregate, name, the class's version), or None: the general way."""
        self._checked: dict[str, int] = {}
        self.fast = self.general = 0
        self.trace_context: str | None = None
        """The trace context stored with the event converted last (the relay passes it on)."""

    def general_way(self, note: Notification,
                    client_of: Callable[[UUID], UUID | None]) -> Record:
        event = self.app.mapper.to_domain_event(note)
        self.general += 1
        self.trace_context = getattr(getattr(event, "provenance", None), "trace_context", None)
        return to_outbound(event, note.id, client_of).model_dump(mode="json")

    def __call__(self, note: Notification, client_of: Callable[[UUID], UUID | None]) -> Record:
        """The public dict of a published stored event (``is_published(note.topic)``). What
        the event itself says about its client is in ``record["data"]["client_id"]``."""
        self.trace_context = None
        kind = self._kind(note.topic)
        if kind is None:
            return self.general_way(note, client_of)
        try:
            record = self._fast(note, kind, client_of)
        except _Unknown as e:  # this event only: older events of a topic need upcasting
            log.debug("public_records_general_way", topic=note.topic, reason=str(e))
            return self.general_way(note, client_of)
        if self._checked.get(note.topic, 0) < CHECKED:
            expected = self.general_way(note, client_of)
            self.general -= 1
            self._checked[note.topic] = self._checked.get(note.topic, 0) + 1
            if expected != record:
                log.warning("public_records_mismatch", topic=note.topic)
                self._types[note.topic] = None
                return expected
        self.fast += 1
        return record

    def _kind(self, topic: str) -> tuple[str, str, int] | None:
        if topic not in self._types:
            cls = resolve_topic(topic)
            aggregate, _, name = cls.__qualname__.partition(".")
            self._types[topic] = (_snake(aggregate), _snake(name),
                                  int(getattr(cls, "class_version", 1)))
        return self._types[topic]

    def _fast(self, note: Notification, kind: tuple[str, str, int],
              client_of: Callable[[UUID], UUID | None]) -> Record:
        mapper = self.app.mapper
        state = note.state
        try:
            if isinstance(mapper, CheckedMapper):
                state = mapper.unsealed_state(note)
            if mapper.cipher:
                state = mapper.cipher.decrypt(state)
            if mapper.compressor:
                state = mapper.compressor.decompress(state)
        except DamagedEvent:
            raise
        except Exception as e:  # e.g. Invalid cipher tag: the row was altered
            raise DamagedEvent(note.originator_id, note.originator_version,
                               f"{type(e).__name__}: {e}"[:300]) from e
        stored = json.loads(state)
        if stored.pop("class_version", 1) != kind[2]:
            raise _Unknown("stored under an older class version: upcasting")
        provenance = (stored.get("provenance") or {}).get("_data_")
        if provenance is None:
            raise _Unknown("no provenance")
        actor = provenance["actor"]["_data_"]
        self.trace_context = provenance.get("trace_context")
        aggregate, name, _ = kind
        data = {k: _plain(v) for k, v in stored.items() if k not in _ENVELOPE_FIELDS}
        originator = note.originator_id
        if not isinstance(originator, UUID):
            originator = UUID(str(originator))
        aggregate_id = str(originator)
        client: Any = aggregate_id if aggregate == "client" else data.get("client_id")
        if client is None:
            client = client_of(originator)
        return {
            "schema_version": 1,
            "event_id": event_id(aggregate_id, note.originator_version),
            "event_type": f"{aggregate}.{name}",
            "position": note.id,
            "aggregate_type": aggregate,
            "aggregate_id": aggregate_id,
            "aggregate_version": note.originator_version,
            "client_id": None if client is None else str(client),
            "actor": {"id": actor["id"], "role": actor["role"],
                      "organisation": actor["organisation"]},
            "occurred_at": _plain(provenance["occurred_at"]),
            "recorded_at": _plain(stored["timestamp"]),
            "source_system": provenance["source_system"],
            "message_id": provenance["message_id"],
            "correlation_id": provenance["correlation_id"],
            "data": data,
        }
