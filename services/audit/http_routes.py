"""``/audit/...``: the auditor's questions over HTTP (auditor role only).

The router is built from the CareLoop app, the view store's settings, a FastAPI dependency
that authenticates the caller (``require_auditor``; it returns an object with ``.user``,
``.role`` and ``.organisation``) and the care queries (organisation scope, grants, the
recorder of refusals). An auditor sees the clients of their own organisation only; anything
else is answered exactly like a client or aggregate that does not exist. Restricted content
(R/V labels) is redacted unless the auditor holds an open investigation grant; psychotherapy
note text is never shown. Every answer about a client's record is stored as a
``Disclosure`` (channel ``http``, purpose ``audit``) before it is returned.
"""


# No ``from __future__ import annotations`` here: FastAPI must see the local ``Auditor``
# dependency alias as a type, not as a string it cannot resolve.
import asyncio
import contextlib
import json
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Annotated, Any, Literal
from uuid import UUID

import structlog
from fastapi import APIRouter, Body, Depends, HTTPException, Query
from fastapi.responses import PlainTextResponse
from pydantic import BaseModel, ConfigDict, Field

from projections.access_scope import SCOPE_VIEW, related
from projections.audit_redaction import redact, redact_record
from services.api.access_tokens import Caller
from services.api.care_queries import CareQueries, QueryRefused
from services.api.input_guard import STORABLE_TEXT
from services.api.response_models import (
    AggregateState,
    BreakGlassGrant,
    ChainReport,
    Disclosures,
    FhirBundle,
    Refusals,
    StoredView,
    Timeline,
    documented_refusals,
)
from services.audit.as_of import aggregate_at_version, owners_of, view_as_of
from services.audit.disclosure_accounting import Reader, accounting, record_read
from services.audit.fhir_export import timeline_bundle
from services.audit.hash_chain import HashChain, TamperFound
from services.audit.hash_chain_tables import open_chain_table
from services.audit.refusals import refusals
from services.audit.timeline import TimelineFilter, timeline
from services.projector.registry import PROJECTIONS
from services.settings import Settings
from services.store.care_app import CareLoop
from services.store.read_log import ReadLog

log = structlog.get_logger("careloop.http.audit")


class InvestigationRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    reason: str = Field(min_length=10, max_length=2000, pattern=STORABLE_TEXT,
                        description="What is being investigated, in words a reviewer will read.")


def create_audit_router(
    app: CareLoop, settings: Settings, require_auditor: Callable[..., Any],
    queries: CareQueries,
) -> APIRouter:
    router = APIRouter(prefix="/audit", tags=["audit"],
                       responses=documented_refusals(400, 401, 403, 404, 503))
    Auditor = Annotated[Any, Depends(require_auditor)]

    async def caller_of(who: Any, client_id: UUID | None, what: str) -> Caller:
        caller = Caller(str(who.user), str(who.role), str(who.organisation))
        if caller.role != "auditor":
            refused = await queries.refuse(caller, client_id, what, QueryRefused(
                403, "the audit API is for auditors only"), "http")
            raise HTTPException(refused.status, refused.detail)
        return caller

    async def in_scope(caller: Caller, client_id: UUID, what: str) -> None:
        try:
            await queries.require_scope(caller, client_id, what, "http")
        except QueryRefused as refused:
            raise HTTPException(refused.status, refused.detail) from None

    async def recorded(who: Any, client_id: UUID, view: str) -> tuple[Caller, bool]:
        """Scope checked, read recorded; returns the caller and whether a grant is open."""
        caller = await caller_of(who, client_id, view)
        await in_scope(caller, client_id, view)
        grant = await queries.grant_open(caller, client_id)
        reader = Reader(caller.user, caller.role, caller.organisation)
        await asyncio.to_thread(record_read, app, client_id, reader, view, "http", "audit",
                                "investigation grant" if grant else None)
        log.info("audit_read", user=reader.user, client_id=str(client_id), view=view)
        return caller, grant

    @router.post("/clients/{client_id}/investigation", response_model=None, responses={
        200: {"model": BreakGlassGrant, "description": "The grant, open until the time given."}})
    async def post_investigation(
        client_id: UUID, who: Auditor, request: Annotated[InvestigationRequest, Body()],
    ) -> dict[str, Any]:
        """Open a time-limited investigation grant (recorded like break-glass)."""
        caller = await caller_of(who, client_id, "investigation")
        try:
            return await queries.open_break_glass(caller, client_id, request.reason)
        except QueryRefused as refused:
            raise HTTPException(refused.status, refused.detail) from None

    @router.get("/clients/{client_id}/timeline", response_model=None, responses={200: {
        "description": "The client's history: JSON, NDJSON (one event per line) or a FHIR "
                       "Bundle of Provenance and AuditEvent resources.",
        "model": Timeline | FhirBundle,
        "content": {"application/x-ndjson": {"schema": {"type": "string"}}}},
        **documented_refusals(422)})
    async def get_timeline(
        client_id: UUID, who: Auditor,
        since: datetime | None = None, until: datetime | None = None,
        aggregate: str | None = None, actor: str | None = None,
        format: Literal["json", "ndjson", "fhir"] = "json",
    ) -> Any:
        _, grant = await recorded(who, client_id, f"timeline:{format}")
        where = TimelineFilter(since, until, aggregate, actor)
        events = await asyncio.to_thread(lambda: [redact_record(e, grant) for e in
                                                  timeline(app, client_id, where)])
        if format == "fhir":
            return await asyncio.to_thread(timeline_bundle, events)
        if format == "ndjson":
            return PlainTextResponse("".join(json.dumps(e) + "\n" for e in events),
                                     media_type="application/x-ndjson")
        return {"client_id": str(client_id), "events": events}

    @router.get("/clients/{client_id}/as-of", response_model=None, responses={
        200: {"model": StoredView, "description": "The view as it stood then."},
        **documented_refusals(404)})
    async def get_as_of(
        client_id: UUID, who: Auditor, at: datetime,
        view: str = "care_plan", by: Literal["recorded", "business"] = "recorded",
    ) -> dict[str, Any]:
        if view not in PROJECTIONS:
            raise HTTPException(404, f"no view '{view}'")
        _, grant = await recorded(who, client_id, f"{view}:as-of:{at.isoformat()}")
        doc = await asyncio.to_thread(view_as_of, app, client_id, at, view, by)
        if doc is None:
            raise HTTPException(404, f"client {client_id} had no {view} at {at.isoformat()}")
        return redact(doc, grant)  # type: ignore[no-any-return]

    @router.get("/aggregates/{aggregate_id}", response_model=None, responses={
        200: {"model": AggregateState, "description": "The aggregate at that version."},
        **documented_refusals(404)})
    async def get_aggregate(
        aggregate_id: UUID, who: Auditor,
        version: Annotated[int, Query(ge=1, le=2**31 - 1, description="1 up to the largest "
                                      "version a store can hold (PostgreSQL integer)")],
    ) -> dict[str, Any]:
        what = f"aggregate:{aggregate_id}@v{version}"
        caller = await caller_of(who, None, what)
        not_found = HTTPException(404, "no such aggregate within your scope")
        try:
            state = await asyncio.to_thread(aggregate_at_version, app, aggregate_id, version)
        except LookupError:
            await queries.refuse(caller, None, what, QueryRefused(404, "", "out_of_scope"),
                                 "http")
            raise not_found from None
        owners = owners_of(aggregate_id, state)
        now = datetime.now(UTC).date()
        scopes = await asyncio.gather(*(asyncio.to_thread(queries.views.get, SCOPE_VIEW, o)
                                        for o in owners))
        ours = all(related(s, caller.organisation, now) for s in scopes) if owners else (
            state.get("organisation") == caller.organisation)  # a conference with no agenda yet
        if not ours:
            await queries.refuse(caller, UUID(owners[0]) if owners else None, what,
                                 QueryRefused(404, "", "out_of_scope"), "http")
            raise not_found
        grants = [await queries.grant_open(caller, UUID(o)) for o in owners]
        reader = Reader(caller.user, caller.role, caller.organisation)
        for owner in owners:  # a conference names several clients: a read of each record
            await asyncio.to_thread(record_read, app, UUID(owner), reader, what, "http",
                                    "audit")
        return redact(state, all(grants))  # type: ignore[no-any-return]

    @router.get("/clients/{client_id}/disclosures", response_model=None, responses={
        200: {"model": Disclosures, "description": "Every read and disclosure."}})
    async def get_disclosures(
        client_id: UUID, who: Auditor,
        since: datetime | None = None, until: datetime | None = None,
    ) -> dict[str, Any]:
        await recorded(who, client_id, "disclosures")
        entries = await asyncio.to_thread(
            lambda: [e.as_dict() for e in accounting(app, client_id, since, until)])
        return {"client_id": str(client_id), "disclosures": entries}

    @router.get("/refusals", response_model=None, responses={
        200: {"model": Refusals, "description": "Refused attempts the auditor may see."}})
    async def get_refusals(who: Auditor,
                           limit: Annotated[int, Query(ge=1, le=5000)] = 500) -> dict[str, Any]:
        """Refused attempts (401, 403, out of scope) about this organisation's clients or by
        its people."""
        caller = await caller_of(who, None, "refusals")
        now = datetime.now(UTC).date()

        def mine(client_id: str) -> bool:
            return related(queries.views.get(SCOPE_VIEW, client_id), caller.organisation, now)

        found = await asyncio.to_thread(lambda: list(refusals(app, caller.organisation, mine,
                                                              limit)))
        return {"organisation": caller.organisation, "refusals": found}

    @router.get("/verify", response_model=None, responses={
        200: {"model": ChainReport, "description": "The chain's verdict."}})
    async def get_verify(who: Auditor, expect_head: str | None = None) -> dict[str, Any]:
        await caller_of(who, None, "verify")

        def run() -> dict[str, Any]:
            table = open_chain_table(settings)
            try:
                chain = HashChain(app, table)
                with contextlib.suppress(TamperFound):  # verify names the row
                    chain.advance()
                report = chain.verify(expect_head)
            finally:
                table.close()
            finding = report.finding
            broken_read = ReadLog(app).verify()
            return {"ok": report.ok and broken_read is None, "checked": report.checked,
                    "head": f"{report.head_position}:{report.head_hash}",
                    "finding": None if finding is None else vars(finding),
                    "read_log_broken_at": broken_read}

        return await asyncio.to_thread(run)

    return router
