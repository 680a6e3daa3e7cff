"""Coordinator worklists, scoped to the coordinator's organisation.

Rows are kept per organisation (``<kind>@<organisation>``), derived from that
organisation's own coordinator view, so a query reads only its organisation's rows; each
row's client is checked against the scope once more at read time (a care-team period can
end with no event to re-derive the rows). A coordinator of the custodian also gets a row for
every break-glass opening of its clients' records.
"""

from __future__ import annotations

import asyncio
from datetime import UTC, date, datetime, timedelta
from typing import TYPE_CHECKING, Any
from uuid import UUID

from projections import access_scope, worklists
from projections.care_plan_derived import worklist_kind
from projections.view_store import RowQuery
from services.api.access_tokens import Caller
from services.api.disclosure_recorder import Read

if TYPE_CHECKING:
    from services.api.care_queries import CareQueries

Doc = dict[str, Any]

WORKLISTS: dict[str, tuple[str, str | None]] = {
    # name: (row kind, how its date compares with today)
    "overdue-referrals": (worklists.REFERRAL_AWAITING, "before"),
    "unacknowledged-referrals": (worklists.REFERRAL_UNACKNOWLEDGED, None),
    "upcoming-conferences": (worklists.CONFERENCE_OPEN, "on_or_after"),
    "unfinalized-conferences": (worklists.CONFERENCE_OPEN, "before"),
    "overdue-actions": (worklists.TASK_OPEN, "before"),
    "high-risk": (worklists.RISK_HIGH, None),
    "stale-goals": (worklists.GOAL_OPEN, "stale"),
    "break-glass": (worklists.BREAK_GLASS_OPENED, None),
}
STALE_AFTER_DAYS = 30


async def worklist(queries: CareQueries, caller: Caller, name: str, *, limit: int = 50,
                   offset: int = 0, client_id: UUID | None = None, who: str | None = None,
                   today: date | None = None, channel: str = "http") -> Doc:
    from services.api.care_queries import QueryRefused

    what = f"worklist:{name}"
    if caller.role != "coordinator":
        raise await queries.refuse(caller, client_id, what, QueryRefused(
            403, "worklists are for coordinators"), channel)
    if name not in WORKLISTS:
        raise QueryRefused(404, f"no worklist '{name}'; known: {', '.join(WORKLISTS)}")
    if not 1 <= limit <= 200 or offset < 0:
        raise QueryRefused(400, "limit is 1..200 and offset at least 0")
    if client_id is not None:  # asking about one client: the same answer as its care plan
        await queries.require_scope(caller, client_id, what, channel)
    kind, compare = WORKLISTS[name]
    today = today or datetime.now(UTC).date()
    bounds: dict[str, str] = {}
    if compare == "before":
        bounds["before"] = today.isoformat()
    elif compare == "on_or_after":
        bounds["on_or_after"] = today.isoformat()
    elif compare == "stale":
        bounds["before"] = (today - timedelta(days=STALE_AFTER_DAYS)).isoformat()
    query = RowQuery(kind=worklist_kind(kind, caller.organisation),
                     key=str(client_id) if client_id else None, who=who, limit=limit,
                     offset=offset, **bounds)
    items, total = await asyncio.to_thread(queries.views.rows, query)
    now = datetime.now(UTC).date()
    clients = sorted({item["client_id"] for item in items})
    scopes = await asyncio.gather(*(queries.scope(UUID(c)) for c in clients))
    allowed = {c for c, s in zip(clients, scopes, strict=True)
               if access_scope.related(s, caller.organisation, now)}
    shown = [item for item in items if item["client_id"] in allowed]
    total -= len(items) - len(shown)
    await asyncio.gather(*(
        queries.recorder.record(Read(UUID(cid), caller, what, "care-coordination", channel))
        for cid in sorted(allowed)))
    return {"worklist": name, "as_of": today.isoformat(), "total": total, "limit": limit,
            "offset": offset, "items": shown}
