"""Any past state, rebuilt from the events up to that moment (never from the live views).

``view_as_of`` folds the same projection functions the live views use over the client's
events recorded up to an instant (or, with ``by="business"``, that happened by then);
``aggregate_at_version`` replays one aggregate to a version with the domain's own classes.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal
from uuid import UUID

from eventsourcing.application import AggregateNotFoundError
from eventsourcing.domain import Aggregate
from pydantic_core import to_jsonable_python

from services.projector.registry import PROJECTIONS
from services.store.care_app import CareLoop
from services.store.event_records import records, touches

TimeAxis = Literal["recorded", "business"]


def view_as_of(
    app: CareLoop, client_id: UUID, at: datetime, view: str = "care_plan",
    by: TimeAxis = "recorded",
) -> dict[str, Any] | None:
    """The client's ``view`` document as it stood at ``at``; None if they had none yet."""
    projection = PROJECTIONS[view]
    key = str(client_id)
    field = "recorded_at" if by == "recorded" else "occurred_at"
    doc: dict[str, Any] | None = None
    for record in records(app):
        if touches(record, key) and datetime.fromisoformat(record[field]) <= at:
            doc = projection.apply(doc, record, key)
    return doc


def aggregate_at_version(app: CareLoop, aggregate_id: UUID, version: int) -> dict[str, Any]:
    """One aggregate's state at ``version``, replayed from its own events."""
    try:
        found: Aggregate = app.repository.get(aggregate_id, version=version)
    except AggregateNotFoundError:
        raise LookupError(f"no aggregate {aggregate_id}") from None
    state = {k.lstrip("_"): v for k, v in vars(found).items() if k != "_pending_events"}
    return {"aggregate_type": type(found).__name__, **to_jsonable_python(state, fallback=str)}


def owners_of(aggregate_id: UUID, state: dict[str, Any]) -> list[str]:
    """The clients whose record an aggregate's state is part of (a conference: every client
    on its agenda)."""
    if state["aggregate_type"] == "Client":
        return [str(aggregate_id)]
    if isinstance(state.get("agenda"), dict):
        return sorted(str(c) for c in state["agenda"])
    return [str(state["client_id"])] if state.get("client_id") else []
