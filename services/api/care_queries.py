"""What callers may read, decided once for HTTP and NATS alike.

The role's own view is the first line (it never holds what the role must not see); here is
the second: caseload, purpose, break-glass grants. Refusals say nothing about whether the
client exists. Every read is recorded as a Disclosure before any data is returned.
"""

from __future__ import annotations

import asyncio
import uuid
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Any
from uuid import UUID

from domain.break_glass import MAY_BREAK_GLASS, BreakGlassAccess
from domain.errors import DomainError
from domain.provenance import Actor, Provenance
from projections import care_plan, role_views, worklists
from projections.care_plan_derived import NOTES_VIEW, notes_key
from projections.view_store import RowQuery, ViewStore
from services.api.access_tokens import Caller
from services.api.disclosure_recorder import DisclosureRecorder, Read
from services.store.care_app import CareLoop

Doc = dict[str, Any]

CASELOAD_BOUND = ("clinical-social-worker", "psychiatrist", "housing-advocate",
                  "benefits-advocate")
PURPOSES = {
    "clinical-social-worker": ("treatment", "care-coordination"),
    "psychiatrist": ("treatment", "care-coordination"),
    "housing-advocate": ("care-coordination",),
    "benefits-advocate": ("care-coordination",),
    "coordinator": ("care-coordination",),
    "auditor": ("audit",),
}
WORKLISTS: dict[str, tuple[str, str | None]] = {
    # name: (row kind, how its date compares with today)
    "overdue-referrals": (worklists.REFERRAL_AWAITING, "before"),
    "unacknowledged-referrals": (worklists.REFERRAL_UNACKNOWLEDGED, None),
    "upcoming-conferences": (worklists.CONFERENCE_OPEN, "on_or_after"),
    "unfinalized-conferences": (worklists.CONFERENCE_OPEN, "before"),
    "overdue-actions": (worklists.TASK_OPEN, "before"),
    "high-risk": (worklists.RISK_HIGH, None),
    "stale-goals": (worklists.GOAL_OPEN, "stale"),
    "break-glass-openings": (worklists.BREAK_GLASS_OPENED, None),
}
STALE_AFTER_DAYS = 30
NOT_ON_CASELOAD = "you are not on this client's care team; a clinician may break the glass"


@dataclass
class QueryRefused(Exception):
    status: int
    detail: str


def on_caseload(doc: Doc | None, caller: Caller, today: date) -> bool:
    if doc is None:
        return False
    member = (doc.get("care_team") or {}).get(caller.user)
    if not member or member["role"] != caller.role:
        return False
    if member["organisation"] != caller.organisation:
        return False
    start, end = member.get("period_start"), member.get("period_end")
    return (not start or date.fromisoformat(start) <= today) and (
        not end or today <= date.fromisoformat(end))


class CareQueries:
    def __init__(self, app: CareLoop, views: ViewStore, recorder: DisclosureRecorder,
                 break_glass_minutes: int = 60) -> None:
        self.app, self.views, self.recorder = app, views, recorder
        self.break_glass_minutes = break_glass_minutes

    @staticmethod
    def _purpose(caller: Caller, asked: str | None) -> str:
        allowed = PURPOSES.get(caller.role, ())
        purpose = asked or (allowed[0] if allowed else "")
        if purpose not in allowed:
            raise QueryRefused(403, f"role '{caller.role}' may read for "
                                    f"{', '.join(allowed) or 'no purpose'}, not '{purpose}'")
        return purpose

    async def care_plan(self, caller: Caller, client_id: UUID, *, purpose: str | None = None,
                        access: str | None = None, channel: str = "http") -> Doc:
        if access == "break-glass":
            return await self._break_glass_view(caller, client_id, channel)
        if access not in (None, ""):
            raise QueryRefused(400, "access is either omitted or 'break-glass'")
        why = self._purpose(caller, purpose)
        view = role_views.view_name(caller.role)
        doc = await asyncio.to_thread(self.views.get, view, str(client_id))
        if caller.role in CASELOAD_BOUND:
            if not on_caseload(doc, caller, datetime.now(UTC).date()):
                raise QueryRefused(403, NOT_ON_CASELOAD)
        elif doc is None:
            raise QueryRefused(404, f"no care plan for client {client_id}")
        assert doc is not None
        await self.recorder.record(Read(client_id, caller, view, why, channel))
        return care_plan.as_response(doc)

    async def _break_glass_view(self, caller: Caller, client_id: UUID, channel: str) -> Doc:
        access = await asyncio.to_thread(
            self.app.find, BreakGlassAccess.id_for(client_id, caller.user), BreakGlassAccess)
        if access is None or not access.is_open(datetime.now(UTC)):
            raise QueryRefused(403, "no open break-glass access; open one with a reason first")
        view = role_views.view_name(role_views.BREAK_GLASS)
        doc = await asyncio.to_thread(self.views.get, view, str(client_id))
        if doc is None:
            raise QueryRefused(404, f"no care plan for client {client_id}")
        await self.recorder.record(Read(client_id, caller, view, "emergency", channel,
                                        access.reason))
        return care_plan.as_response(doc)

    async def open_break_glass(self, caller: Caller, client_id: UUID, reason: str) -> Doc:
        if caller.role not in MAY_BREAK_GLASS:
            raise QueryRefused(403, f"role '{caller.role}' may not break the glass")

        provenance = Provenance(
            actor=Actor(caller.user, caller.role, caller.organisation),
            occurred_at=datetime.now(UTC), source_system="careloop-api",
            message_id=f"break-glass-{uuid.uuid4()}", correlation_id=f"client-{client_id}")

        def open_access() -> datetime:
            access = self.app.find(BreakGlassAccess.id_for(client_id, caller.user),
                                   BreakGlassAccess) or BreakGlassAccess.start(
                client_id, caller.user, provenance)
            access.open(reason, self.break_glass_minutes, provenance)
            self.app.save(access)
            assert access.open_until is not None
            return access.open_until

        try:
            until = await asyncio.to_thread(open_access)
        except DomainError as e:
            raise QueryRefused(422, str(e)) from e
        return {"client_id": str(client_id), "open_until": until.isoformat(),
                "view": "GET /clients/{id}/care-plan?access=break-glass"}

    async def own_notes(self, caller: Caller, client_id: UUID, purpose: str | None = None,
                        channel: str = "http") -> Doc:
        if caller.role not in ("clinical-social-worker", "psychiatrist"):
            raise QueryRefused(403, "psychotherapy notes are kept to their author")
        why = self._purpose(caller, purpose)
        doc = await asyncio.to_thread(self.views.get, NOTES_VIEW,
                                      notes_key(str(client_id), caller.user))
        doc = doc or {"client_id": str(client_id), "author_id": caller.user, "notes": {}}
        await self.recorder.record(Read(client_id, caller, NOTES_VIEW, why, channel))
        return doc

    async def worklist(self, caller: Caller, name: str, *, limit: int = 50, offset: int = 0,
                       client_id: UUID | None = None, who: str | None = None,
                       today: date | None = None, channel: str = "http") -> Doc:
        if caller.role != "coordinator":
            raise QueryRefused(403, "worklists are for coordinators")
        if name not in WORKLISTS:
            raise QueryRefused(404, f"no worklist '{name}'; known: {', '.join(WORKLISTS)}")
        if not 1 <= limit <= 200 or offset < 0:
            raise QueryRefused(400, "limit is 1..200 and offset at least 0")
        kind, compare = WORKLISTS[name]
        today = today or datetime.now(UTC).date()
        bounds: dict[str, str] = {}
        if compare == "before":
            bounds["before"] = today.isoformat()
        elif compare == "on_or_after":
            bounds["on_or_after"] = today.isoformat()
        elif compare == "stale":
            bounds["before"] = (today - timedelta(days=STALE_AFTER_DAYS)).isoformat()
        query = RowQuery(kind=kind, key=str(client_id) if client_id else None, who=who,
                         limit=limit, offset=offset, **bounds)
        items, total = await asyncio.to_thread(self.views.rows, query)
        await asyncio.gather(*(
            self.recorder.record(Read(UUID(cid), caller, f"worklist:{name}",
                                      "care-coordination", channel))
            for cid in sorted({item["client_id"] for item in items})))
        return {"worklist": name, "as_of": today.isoformat(), "total": total, "limit": limit,
                "offset": offset, "items": items}
