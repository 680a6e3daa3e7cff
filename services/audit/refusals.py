"""Refused attempts to read, as auditors see them.

An auditor sees a refusal when the person refused belongs to the auditor's organisation,
or when the client asked about is one of the organisation's clients (``in_scope``). A 401
names nobody and, without a client, nothing: those are listed to every auditor (time,
channel and route only)."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

from services.store.care_app import CareLoop
from services.store.event_records import ClientResolver, notifications, record_of

REFUSAL_TOPIC = "domain.access_refusal:AccessRefusal.Recorded"


def refusals(app: CareLoop, organisation: str, in_scope: Callable[[str], bool],
             limit: int = 500) -> Iterator[dict[str, Any]]:
    """The refusals ``organisation``'s auditors may see, newest last, at most ``limit``."""
    clients = ClientResolver(app)
    shown = 0
    for notes in notifications(app, topics=(REFUSAL_TOPIC,)):
        for note in notes:
            record = record_of(app, note, clients)
            if record is None:
                continue
            data, actor = record["data"], record["actor"]
            client = data.get("client_id")
            visible = actor["organisation"] == organisation or (
                client is not None and in_scope(str(client))) or (
                client is None and data["status"] == 401)
            if not visible:
                continue
            yield {"at": record["occurred_at"], "who": actor, "client_id": client,
                   "what": data["what"], "status": data["status"], "reason": data["reason"],
                   "channel": data["channel"], "position": record["position"]}
            shown += 1
            if shown >= limit:
                return
