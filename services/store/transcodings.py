"""How the domain's value objects are written into stored events (names are stored: keep them)."""

from __future__ import annotations

from datetime import date
from typing import Any

from eventsourcing.persistence import JSONTranscoder, Transcoding

from domain.provenance import Actor, Provenance


class ActorAsDict(Transcoding):
    type = Actor
    name = "careloop_actor"

    def encode(self, obj: Actor) -> dict[str, str]:
        return {"id": obj.id, "role": obj.role, "organisation": obj.organisation}

    def decode(self, data: dict[str, str]) -> Actor:
        return Actor(**data)


class ProvenanceAsDict(Transcoding):
    type = Provenance
    name = "careloop_provenance"

    def encode(self, obj: Provenance) -> dict[str, Any]:
        encoded = {
            "actor": obj.actor,
            "occurred_at": obj.occurred_at,
            "source_system": obj.source_system,
            "message_id": obj.message_id,
            "correlation_id": obj.correlation_id,
        }
        if obj.trace_context is not None:  # only when traced: untraced events stay as before
            encoded["trace_context"] = obj.trace_context
        return encoded

    def decode(self, data: dict[str, Any]) -> Provenance:
        return Provenance(**data)


class DateAsISO(Transcoding):
    type = date
    name = "careloop_date"

    def encode(self, obj: date) -> str:
        return obj.isoformat()

    def decode(self, data: str) -> date:
        return date.fromisoformat(data)


def register_careloop_transcodings(transcoder: JSONTranscoder) -> None:
    for transcoding in (ActorAsDict(), ProvenanceAsDict(), DateAsISO()):
        transcoder.register(transcoding)
