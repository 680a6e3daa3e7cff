"""Accounting of disclosures (HIPAA 164.528): who read or received a client's record.

Three kinds of stored fact answer it: reads over the API are in the read log
(``services.store.read_log``), audit tools' own reads are ``Disclosure.Recorded`` events,
and every referral sends the client's information to another organisation. Events are
found with a topic filter in the store, page by page; entries come out in time order.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from typing import Any
from uuid import UUID

from domain.disclosure import Disclosure
from domain.provenance import Actor, Provenance
from domain.referral import Referral
from services.store.care_app import CareLoop
from services.store.event_records import ClientResolver, notifications, record_of
from services.store.read_log import ReadFact, ReadLog

DISCLOSED_BY_REFERRAL = ("domain.referral:Referral.Made", "domain.referral:Referral.Requested")
READ_TOPIC = "domain.disclosure:Disclosure.Recorded"


@dataclass(frozen=True)
class Reader:
    """Who is reading: an auditor at the command line, a clinician over HTTP, ..."""

    user: str
    role: str
    organisation: str


@dataclass(frozen=True)
class DisclosureEntry:
    at: str
    """When it was read or disclosed (the read time, or the referral's business time)."""
    kind: str
    """``read`` or ``referral``."""
    recipient: str
    role: str
    organisation: str
    what: str
    """The view read, or the service the referral went to."""
    purpose: str
    break_glass_reason: str | None
    channel: str
    position: int
    """Store position of the event; 0 for a read from the read log."""

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def record_read(
    app: CareLoop, client_id: UUID, reader: Reader, view: str, channel: str,
    purpose: str = "audit", break_glass_reason: str | None = None,
    disclosure_id: UUID | None = None,
) -> UUID:
    """Store the fact that ``reader`` read ``view`` of the client's record; returns its id."""
    disclosure_id = disclosure_id or uuid.uuid4()
    provenance = Provenance(
        actor=Actor(reader.user, reader.role, reader.organisation),
        occurred_at=datetime.now(UTC), source_system=f"careloop-{channel}",
        message_id=f"read-{disclosure_id}", correlation_id=f"read-{disclosure_id}")
    disclosure = Disclosure.record(disclosure_id, client_id, view, purpose, break_glass_reason,
                                   channel, provenance)
    app.save(disclosure)
    return disclosure.id


def accounting(
    app: CareLoop, client_id: UUID, since: datetime | None = None, until: datetime | None = None,
) -> Iterator[DisclosureEntry]:
    """Every read and disclosure of the client's record in [since, until), oldest first."""
    logged = [_logged(f) for f in ReadLog(app).reads() if f.client_id == client_id]
    entries = sorted([*_stored(app, client_id), *logged],
                     key=lambda e: datetime.fromisoformat(e.at))
    for entry in entries:
        at = datetime.fromisoformat(entry.at)
        if (since is None or at >= since) and (until is None or at < until):
            yield entry


def _logged(fact: ReadFact) -> DisclosureEntry:
    return DisclosureEntry(
        at=fact.read_at.isoformat(), kind="read", recipient=fact.viewer_id,
        role=fact.viewer_role, organisation=fact.viewer_organisation, what=fact.view,
        purpose=fact.purpose, break_glass_reason=fact.break_glass_reason, channel=fact.channel,
        position=0)


def _stored(app: CareLoop, client_id: UUID) -> Iterator[DisclosureEntry]:
    wanted = str(client_id)
    clients = ClientResolver(app)
    topics = (READ_TOPIC, *DISCLOSED_BY_REFERRAL)
    for notes in notifications(app, topics=topics):
        for note in notes:
            record = record_of(app, note, clients)
            if record is None or record["client_id"] != wanted:
                continue
            if record["event_type"] == "referral.made" and record["data"].get("draft"):
                continue  # a draft has not left the referrer yet; its request will
            if record["event_type"] == "referral.requested":
                referral = app.find(UUID(record["aggregate_id"]), Referral)
                if referral is not None:
                    record["data"].update(to_service=referral.to_service,
                                          to_organisation=referral.to_organisation)
            yield _entry(record)


def _entry(record: dict[str, Any]) -> DisclosureEntry:
    data, actor = record["data"], record["actor"]
    if record["aggregate_type"] == "disclosure":
        return DisclosureEntry(
            at=data["read_at"], kind="read", recipient=data["viewer_id"],
            role=data["viewer_role"], organisation=data["viewer_organisation"],
            what=data["view"], purpose=data["purpose"],
            break_glass_reason=data.get("break_glass_reason"), channel=data["channel"],
            position=record["position"])
    return DisclosureEntry(
        at=record["occurred_at"], kind="referral", recipient=data.get("to_organisation") or "",
        role=f"{data.get('to_service') or 'service'} provider",
        organisation=data.get("to_organisation") or "",
        what=f"referral to {data.get('to_service')} (sent by {actor['id']}, "
             f"{actor['organisation']})",
        purpose="care-coordination", break_glass_reason=None, channel=record["source_system"],
        position=record["position"])
