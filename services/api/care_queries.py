"""What callers may read, decided once for HTTP and NATS alike.

The audience's own view is the first line (it never holds what that role and organisation
must not see); here is the second: organisation scope, caseload, purpose, break-glass and
investigation grants. A client outside the caller's scope gets exactly the answer a client
that does not exist gets (``OUT_OF_SCOPE``), everywhere. Every read is recorded as a
Disclosure before any data is returned; every refused attempt is recorded too.
"""

from __future__ import annotations

import asyncio
import uuid
from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import Any
from uuid import UUID

from domain.break_glass import BreakGlassAccess
from domain.errors import DomainError
from domain.provenance import Actor, Provenance
from projections import access_scope, care_plan, role_views
from projections.care_plan_derived import NOTES_VIEW, notes_key
from projections.view_store import ViewStore
from services.api.access_tokens import Caller
from services.api.disclosure_recorder import DisclosureRecorder, Read, Refusal
from services.store.care_app import CareLoop

Doc = dict[str, Any]

CASELOAD_BOUND = ("clinical-social-worker", "psychiatrist", "housing-advocate",
                  "benefits-advocate")
ORGANISATION_BOUND = ("coordinator", "auditor")
CLINICIANS = ("clinical-social-worker", "psychiatrist")
PURPOSES = {
    "clinical-social-worker": ("treatment", "care-coordination"),
    "psychiatrist": ("treatment", "care-coordination"),
    "housing-advocate": ("care-coordination",),
    "benefits-advocate": ("care-coordination",),
    "coordinator": ("care-coordination",),
    "auditor": ("audit",),
}


@dataclass
class QueryRefused(Exception):
    status: int
    detail: str
    reason: str = "role_not_permitted"


def out_of_scope(client_id: UUID) -> QueryRefused:
    """The one answer for a client the caller may not see and for one that does not exist."""
    return QueryRefused(404, "no such client within your scope", "out_of_scope")


def in_scope(scope: Doc | None, caller: Caller, today: date) -> bool:
    """Coordinators and auditors: their organisation's clients (custodian or on the team).
    Clinicians and advocates: their own caseload."""
    if caller.role in ORGANISATION_BOUND:
        return access_scope.related(scope, caller.organisation, today)
    return access_scope.on_caseload(scope, caller.user, caller.role, caller.organisation, today)


class CareQueries:
    def __init__(self, app: CareLoop, views: ViewStore, recorder: DisclosureRecorder,
                 break_glass_minutes: int = 60,
                 treating_providers: frozenset[str] = frozenset()) -> None:
        self.app, self.views, self.recorder = app, views, recorder
        self.break_glass_minutes = break_glass_minutes
        self.treating_providers = treating_providers
        """Organisations registered as treating providers: their clinicians may break glass."""

    async def refuse(self, caller: Caller | None, client_id: UUID | None, what: str,
                     refused: QueryRefused, channel: str) -> QueryRefused:
        """Record the refused attempt, and hand the refusal back to raise."""
        await self.recorder.refused(Refusal(client_id, caller, what, refused.status,
                                            refused.reason, channel))
        return refused

    async def scope(self, client_id: UUID) -> Doc | None:
        return await asyncio.to_thread(self.views.get, access_scope.SCOPE_VIEW, str(client_id))

    async def require_scope(self, caller: Caller, client_id: UUID, what: str,
                            channel: str) -> Doc:
        scope = await self.scope(client_id)
        if scope is None or not in_scope(scope, caller, datetime.now(UTC).date()):
            raise await self.refuse(caller, client_id, what, out_of_scope(client_id), channel)
        return scope

    async def _purpose(self, caller: Caller, asked: str | None, client_id: UUID | None,
                       what: str, channel: str) -> str:
        allowed = PURPOSES.get(caller.role, ())
        purpose = asked or (allowed[0] if allowed else "")
        if purpose not in allowed:
            raise await self.refuse(caller, client_id, what, QueryRefused(
                403, f"role '{caller.role}' may read for "
                     f"{', '.join(allowed) or 'no purpose'}, not '{purpose}'"), channel)
        return purpose

    async def care_plan(self, caller: Caller, client_id: UUID, *, purpose: str | None = None,
                        access: str | None = None, channel: str = "http") -> Doc:
        if access == "break-glass":
            return await self._break_glass_view(caller, client_id, channel)
        if access not in (None, ""):
            raise QueryRefused(400, "access is either omitted or 'break-glass'")
        view = role_views.view_name(caller.role)
        why = await self._purpose(caller, purpose, client_id, view, channel)
        await self.require_scope(caller, client_id, view, channel)
        doc = await asyncio.to_thread(self.views.get, view,
                                      role_views.view_key(str(client_id), caller.organisation))
        if doc is None:  # in scope but not yet rendered for this audience: nothing to show
            raise await self.refuse(caller, client_id, view, out_of_scope(client_id), channel)
        await self.recorder.record(Read(client_id, caller, view, why, channel))
        return care_plan.as_response(doc)

    def _access_id(self, caller: Caller, client_id: UUID) -> UUID:
        return BreakGlassAccess.id_for(client_id, caller.user, caller.organisation, caller.role)

    async def _may_break_glass(self, caller: Caller, client_id: UUID, what: str,
                               channel: str) -> None:
        """Clinicians of treating providers (any existing client, in an emergency); auditors
        (an investigation grant, for their organisation's clients)."""
        if caller.role == "auditor":
            await self.require_scope(caller, client_id, what, channel)
            return
        if caller.role not in CLINICIANS:
            raise await self.refuse(caller, client_id, what, QueryRefused(
                403, f"role '{caller.role}' may not break the glass"), channel)
        if caller.organisation not in self.treating_providers:
            raise await self.refuse(caller, client_id, what, QueryRefused(
                403, "only clinicians of organisations registered as treating providers may "
                     "break the glass", "not_a_treating_provider"), channel)
        if await self.scope(client_id) is None:
            raise await self.refuse(caller, client_id, what, out_of_scope(client_id), channel)

    async def _break_glass_view(self, caller: Caller, client_id: UUID, channel: str) -> Doc:
        view = role_views.view_name(role_views.BREAK_GLASS)
        await self._may_break_glass(caller, client_id, view, channel)
        access = await asyncio.to_thread(self.app.find, self._access_id(caller, client_id),
                                         BreakGlassAccess)
        if access is None or not access.is_open(datetime.now(UTC)):
            raise await self.refuse(caller, client_id, view, QueryRefused(
                403, "no open break-glass access; open one with a reason first",
                "no_open_access"), channel)
        doc = await asyncio.to_thread(self.views.get, view, str(client_id))
        if doc is None:
            raise await self.refuse(caller, client_id, view, out_of_scope(client_id), channel)
        purpose = "emergency"
        if caller.role == "auditor":  # an investigation opens restricted content, not contact
            doc, purpose = {k: v for k, v in doc.items() if k != "contact"}, "audit"
        await self.recorder.record(Read(client_id, caller, view, purpose, channel,
                                        access.reason))
        return care_plan.as_response(doc)

    async def open_break_glass(self, caller: Caller, client_id: UUID, reason: str,
                               channel: str = "http") -> Doc:
        await self._may_break_glass(caller, client_id, "break-glass", channel)
        provenance = Provenance(
            actor=Actor(caller.user, caller.role, caller.organisation),
            occurred_at=datetime.now(UTC), source_system="careloop-api",
            message_id=f"break-glass-{uuid.uuid4()}", correlation_id=f"client-{client_id}")

        def open_access() -> datetime:
            access = self.app.find(self._access_id(caller, client_id),
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

    async def grant_open(self, caller: Caller, client_id: UUID) -> bool:
        """Does this auditor hold an open investigation grant on this client?"""
        access = await asyncio.to_thread(self.app.find, self._access_id(caller, client_id),
                                         BreakGlassAccess)
        return access is not None and access.is_open(datetime.now(UTC))

    async def grant_until(self, caller: Caller, client_id: UUID) -> datetime | None:
        """When this caller's open break-glass (or investigation) grant ends; None if none."""
        access = await asyncio.to_thread(self.app.find, self._access_id(caller, client_id),
                                         BreakGlassAccess)
        if access is None or not access.is_open(datetime.now(UTC)):
            return None
        return access.open_until

    async def own_notes(self, caller: Caller, client_id: UUID, purpose: str | None = None,
                        channel: str = "http") -> Doc:
        if caller.role not in CLINICIANS:
            raise await self.refuse(caller, client_id, NOTES_VIEW, QueryRefused(
                403, "psychotherapy notes are kept to their author"), channel)
        why = await self._purpose(caller, purpose, client_id, NOTES_VIEW, channel)
        key = notes_key(str(client_id), caller.organisation, caller.role, caller.user)
        doc = await asyncio.to_thread(self.views.get, NOTES_VIEW, key)
        if doc is None:  # nothing of theirs: still only for clients on their caseload
            await self.require_scope(caller, client_id, NOTES_VIEW, channel)
            doc = {"client_id": str(client_id), "author_id": caller.user,
                   "author_organisation": caller.organisation, "author_role": caller.role,
                   "notes": {}}
        await self.recorder.record(Read(client_id, caller, NOTES_VIEW, why, channel))
        return doc

    async def worklist(self, caller: Caller, name: str, **kwargs: Any) -> Doc:
        from services.api.worklist_queries import worklist

        return await worklist(self, caller, name, **kwargs)
