"""Consents stored before evidence was recorded still replay (both stores).

``Client.ConsentRecorded`` and ``Client.ConsentStatusChanged`` are at class_version 2 (they
carry ``evidence``). Events written by version 1 have neither the field nor a class_version;
they are written here byte for byte as version 1 wrote them, then replayed.
"""

from __future__ import annotations

import json
import uuid
from datetime import UTC, date, datetime

from eventsourcing.persistence import StoredEvent

from domain.client import Client
from domain.provenance import Actor, Provenance
from services.settings import Settings
from services.store.care_app import CareLoop, create_care_app
from services.store.event_seal import seal, unseal
from services.store.event_store_config import eventsourcing_env

BY = Provenance(actor=Actor("sw-1", "clinical-social-worker", "riverside-cmhc"),
                occurred_at=datetime(2026, 11, 2, 15, 0, tzinfo=UTC), source_system="riverside-ehr",
                message_id="m-1", correlation_id="c-1")
V2 = ("Client.ConsentRecorded", "Client.ConsentStatusChanged")


def as_version_1(app: CareLoop, stored: StoredEvent) -> StoredEvent:
    """The same event as version 1 stored it: no evidence, no class_version (sealed with
    careloop's key, as every stored event is when a cipher key is set)."""
    key = getattr(app.mapper, "seal_key", None)
    ids = (stored.originator_id, stored.originator_version, stored.topic)
    state = stored.state if key is None else unseal(key, *ids, stored.state)
    if app.mapper.cipher is not None:
        state = app.mapper.cipher.decrypt(state)
    if app.mapper.compressor is not None:
        state = app.mapper.compressor.decompress(state)
    doc = json.loads(state)
    assert doc.pop("class_version") == 2 and "evidence" in doc
    doc.pop("evidence")
    state = json.dumps(doc, separators=(",", ":")).encode()
    if app.mapper.compressor is not None:
        state = app.mapper.compressor.compress(state)
    if app.mapper.cipher is not None:
        state = app.mapper.cipher.encrypt(state)
    if key is not None:
        state = seal(key, *ids, state)
    return StoredEvent(stored.originator_id, stored.originator_version, stored.topic, state)


def test_version_1_consent_events_replay_with_no_evidence(base_settings: Settings) -> None:
    app = create_care_app(eventsourcing_env(base_settings))
    try:
        client = Client.register(uuid.uuid4(), "Ada", "Lovelace", date(1980, 1, 1), "en", BY)
        consent_id = uuid.uuid4()
        client.record_consent(consent_id, "active", "permit", ["housing-advocate"],
                              ["harbor-housing"], ["care-coordination"], ["housing"],
                              date(2026, 11, 2), None, False, BY)
        client.change_consent_status(consent_id, "inactive", "client asked", BY)
        stored = [app.mapper.to_stored_event(e) for e in client.collect_events()]
        old = [as_version_1(app, s) if s.topic.endswith(V2) else s for s in stored]
        assert sum(s.topic.endswith(V2) for s in old) == 2
        app.recorder.insert_events(old)

        replayed = app.repository.get(client.id)
        consent = replayed.consents[consent_id]
        assert (consent.status, consent.evidence, consent.recorded_by) == (
            "inactive", None, "riverside-cmhc")
    finally:
        app.close()


def test_evidence_is_stored_and_replayed_as_given(base_settings: Settings) -> None:
    evidence: dict[str, str | None] = {
        "signed_by": "legal-representative", "representative": "R. Guardian (court order)",
        "method": "verbal-with-witness", "witness": "co-5001",
        "signed_at": "2026-11-02T09:00:00-05:00", "document_reference": "call-2026-11-02"}
    app = create_care_app(eventsourcing_env(base_settings))
    try:
        client = Client.register(uuid.uuid4(), "Ada", "Lovelace", date(1980, 1, 1), "en", BY)
        draft, active = uuid.uuid4(), uuid.uuid4()
        for consent_id, status, given in ((draft, "draft", None), (active, "active", evidence)):
            client.record_consent(consent_id, status, "permit", [], ["harbor-housing"],
                                  ["care-coordination"], ["housing"], date(2026, 11, 2), None,
                                  False, BY, evidence=given)
        client.change_consent_status(draft, "active", "", BY, evidence=evidence)
        app.save(client)
    finally:
        app.close()
    again = create_care_app(eventsourcing_env(base_settings))
    try:
        replayed = again.repository.get(client.id)
        assert replayed.consents[active].evidence == evidence
        assert replayed.consents[draft].evidence == evidence
        assert replayed.consents[draft].status == "active"
    finally:
        again.close()
