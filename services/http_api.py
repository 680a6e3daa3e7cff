"""The HTTP face for coordinators and the clinical team: care plans and health.

Callers identify themselves with development headers for now (``X-Careloop-User``,
``X-Careloop-Role``, ``X-Careloop-Organisation``); signed credentials replace them in the
access issue. Only roles whose view is the full care plan may read it; others get 403
until their minimum-necessary views exist.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Annotated, Any
from uuid import UUID

import structlog
from fastapi import Depends, FastAPI, Header, HTTPException, Response
from fastapi.responses import JSONResponse
from pydantic import BaseModel

from projections import care_plan
from projections.view_store import ViewStore

log = structlog.get_logger("careloop.http")

FULL_PLAN_ROLES = {"coordinator", "clinical-social-worker", "psychiatrist"}


class Caller(BaseModel):
    user: str
    role: str
    organisation: str | None = None


class HealthProbe(BaseModel):
    status: str
    nats: dict[str, Any]
    store: dict[str, Any]
    relay: dict[str, Any]
    projection: dict[str, Any]


def caller(
    x_careloop_user: Annotated[str | None, Header(description="Development identity: user id")] = None,
    x_careloop_role: Annotated[str | None, Header(description="Development identity: role")] = None,
    x_careloop_organisation: Annotated[str | None, Header()] = None,
) -> Caller:
    if not x_careloop_user or not x_careloop_role:
        raise HTTPException(
            401, "identify yourself with the X-Careloop-User and X-Careloop-Role headers"
        )
    return Caller(user=x_careloop_user, role=x_careloop_role, organisation=x_careloop_organisation)


def create_http_app(
    views: ViewStore, health: Callable[[], Awaitable[HealthProbe]]
) -> FastAPI:
    api = FastAPI(
        title="careloop",
        version="0.1.0",
        description="Care-plan views and worklists for interdisciplinary care teams.",
    )

    @api.get("/health", response_model=HealthProbe)
    async def get_health(response: Response) -> HealthProbe:
        probe = await health()
        if probe.status != "ok":
            response.status_code = 503
        return probe

    @api.get("/clients/{client_id}/care-plan")
    async def get_care_plan(
        client_id: UUID, who: Annotated[Caller, Depends(caller)]
    ) -> JSONResponse:
        structlog.contextvars.bind_contextvars(client_id=str(client_id), role=who.role)
        if who.role not in FULL_PLAN_ROLES:
            # Same answer whether or not the client exists: a refusal reveals nothing.
            raise HTTPException(403, f"role '{who.role}' has no care-plan view yet")
        plan = await asyncio.to_thread(views.get, care_plan.VIEW, str(client_id))
        if plan is None:
            raise HTTPException(404, f"no care plan for client {client_id}")
        log.info("care_plan_read", user=who.user)
        # Already JSON (it came from the view store): skip FastAPI's slow jsonable_encoder.
        return JSONResponse(care_plan.as_response(plan))

    return api
