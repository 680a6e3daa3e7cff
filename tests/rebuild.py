"""Rebuilding views from the event store, the projector's path without JetStream (tests)."""

from __future__ import annotations

import json
import uuid

from eventsourcing.domain import Aggregate

from projections import care_plan, care_plan_derived
from projections.view_store import ViewStore
from services.relay.outbound_events import is_published, to_outbound
from services.store.care_app import CareLoop


def project(app: CareLoop, views: ViewStore, cid: str | None = None,
            name: str = "rebuild") -> None:
    """Fold every stored event (of one client, or all) into ``views`` in one batch."""

    def client_of(aggregate_id: uuid.UUID) -> uuid.UUID | None:
        return getattr(app.find(aggregate_id, Aggregate), "client_id", None)

    events = []
    for note in app.recorder.select_notifications(1, 1_000_000):
        if is_published(note.topic):
            out = to_outbound(app.mapper.to_domain_event(note), note.id, client_of)
            if cid is None or str(out.client_id) == cid:
                events.append((note.id, json.loads(out.model_dump_json())))
    views.apply_batch(f"{name}-{cid}", care_plan.VIEW, events, care_plan.apply,
                      care_plan.keys_of, care_plan_derived.derive)
