"""``/audit/...``: the auditor's questions over HTTP (auditor role only).

The router is built from the CareLoop app, the view store's settings and a FastAPI
dependency that authenticates the caller (``require_auditor``, supplied by the access
layer; it returns an object with ``.user``, ``.role`` and ``.organisation``). Every answer
about a client's record is itself stored as a ``Disclosure`` (channel ``http``, purpose
``audit``) before it is returned.
"""


# No ``from __future__ import annotations`` here: FastAPI must see the local ``Auditor``
# dependency alias as a type, not as a string it cannot resolve.
import asyncio
import contextlib
import json
from collections.abc import Callable
from datetime import datetime
from typing import Annotated, Any, Literal
from uuid import UUID

import structlog
from fastapi import APIRouter, Depends, HTTPException, Query
from fastapi.responses import PlainTextResponse

from services.audit.as_of import aggregate_at_version, view_as_of
from services.audit.disclosure_accounting import Reader, accounting, record_read
from services.audit.fhir_export import timeline_bundle
from services.audit.hash_chain import HashChain, TamperFound
from services.audit.hash_chain_tables import open_chain_table
from services.audit.timeline import TimelineFilter, timeline
from services.projector.registry import PROJECTIONS
from services.settings import Settings
from services.store.care_app import CareLoop

log = structlog.get_logger("careloop.http.audit")


def create_audit_router(
    app: CareLoop, settings: Settings, require_auditor: Callable[..., Any]
) -> APIRouter:
    router = APIRouter(prefix="/audit", tags=["audit"])
    Auditor = Annotated[Any, Depends(require_auditor)]

    def reader_of(who: Any) -> Reader:
        if getattr(who, "role", None) != "auditor":
            raise HTTPException(403, "the audit API is for auditors only")
        return Reader(user=str(who.user), role="auditor",
                      organisation=str(getattr(who, "organisation", None) or "unknown"))

    async def recorded(who: Any, client_id: UUID, view: str) -> None:
        reader = reader_of(who)
        await asyncio.to_thread(record_read, app, client_id, reader, view, "http", "audit")
        log.info("audit_read", user=reader.user, client_id=str(client_id), view=view)

    @router.get("/clients/{client_id}/timeline", response_model=None)
    async def get_timeline(
        client_id: UUID, who: Auditor,
        since: datetime | None = None, until: datetime | None = None,
        aggregate: str | None = None, actor: str | None = None,
        format: Literal["json", "ndjson", "fhir"] = "json",
    ) -> Any:
        await recorded(who, client_id, f"timeline:{format}")
        where = TimelineFilter(since, until, aggregate, actor)
        events = await asyncio.to_thread(lambda: list(timeline(app, client_id, where)))
        if format == "fhir":
            return await asyncio.to_thread(timeline_bundle, events)
        if format == "ndjson":
            return PlainTextResponse("".join(json.dumps(e) + "\n" for e in events),
                                     media_type="application/x-ndjson")
        return {"client_id": str(client_id), "events": events}

    @router.get("/clients/{client_id}/as-of")
    async def get_as_of(
        client_id: UUID, who: Auditor, at: datetime,
        view: str = "care_plan", by: Literal["recorded", "business"] = "recorded",
    ) -> dict[str, Any]:
        if view not in PROJECTIONS:
            raise HTTPException(404, f"no view '{view}'")
        await recorded(who, client_id, f"{view}:as-of:{at.isoformat()}")
        doc = await asyncio.to_thread(view_as_of, app, client_id, at, view, by)
        if doc is None:
            raise HTTPException(404, f"client {client_id} had no {view} at {at.isoformat()}")
        return doc

    @router.get("/aggregates/{aggregate_id}")
    async def get_aggregate(
        aggregate_id: UUID, who: Auditor, version: Annotated[int, Query(ge=1)],
    ) -> dict[str, Any]:
        reader_of(who)
        try:
            state = await asyncio.to_thread(aggregate_at_version, app, aggregate_id, version)
        except LookupError as e:
            raise HTTPException(404, str(e)) from None
        owner = state.get("client_id") or (str(aggregate_id)
                                           if state["aggregate_type"] == "Client" else None)
        if owner:
            await recorded(who, UUID(owner), f"aggregate:{aggregate_id}@v{version}")
        return state

    @router.get("/clients/{client_id}/disclosures")
    async def get_disclosures(
        client_id: UUID, who: Auditor,
        since: datetime | None = None, until: datetime | None = None,
    ) -> dict[str, Any]:
        await recorded(who, client_id, "disclosures")
        entries = await asyncio.to_thread(
            lambda: [e.as_dict() for e in accounting(app, client_id, since, until)])
        return {"client_id": str(client_id), "disclosures": entries}

    @router.get("/verify")
    async def get_verify(who: Auditor, expect_head: str | None = None) -> dict[str, Any]:
        reader_of(who)

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
            return {"ok": report.ok, "checked": report.checked,
                    "head": f"{report.head_position}:{report.head_hash}",
                    "finding": None if finding is None else vars(finding)}

        return await asyncio.to_thread(run)

    return router
