"""The HTTP face for the care team, coordinators and auditors: role views, worklists, health.

Callers present a signed bearer token (``careloop token`` issues them). A missing, unknown
or expired token gets 401; a role asking outside its rights 403; neither says whether the
client exists. Every read is recorded before its data is sent.
"""

# No `from __future__ import annotations`: FastAPI must see the route annotations, which
# refer to names local to create_http_app, as objects.

from collections.abc import Awaitable, Callable
from datetime import date
from typing import Annotated, Any, Literal
from uuid import UUID

import structlog
from fastapi import (
    APIRouter,
    Body,
    Depends,
    FastAPI,
    Header,
    HTTPException,
    Path,
    Query,
    Request,
    Response,
)
from fastapi.responses import JSONResponse
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from pydantic import BaseModel, Field

from services.api.access_tokens import Caller, InvalidToken, TokenKeys, verify
from services.api.care_queries import CareQueries, QueryRefused
from services.api.disclosure_recorder import DisclosureRecorder, Refusal
from services.api.input_guard import InputGuard
from services.api.worklist_queries import WORKLISTS
from services.store.event_seal import DamagedEvent

log = structlog.get_logger("careloop.http")

Purpose = Literal["treatment", "care-coordination", "audit"]
bearer = HTTPBearer(auto_error=False, description="A token from `careloop token`.")


class HealthProbe(BaseModel):
    status: str
    nats: dict[str, Any]
    store: dict[str, Any]
    relay: dict[str, Any]
    projection: dict[str, Any]
    ingest: dict[str, Any] = Field(default_factory=dict)
    components: dict[str, Any] = Field(default_factory=dict)
    quarantine: dict[str, Any] = Field(default_factory=dict)
    dead_letters: dict[str, Any] = Field(default_factory=dict)
    integrity: dict[str, Any] = Field(default_factory=dict)
    problems: list[str] = Field(default_factory=list, description="Why the status is degraded.")
    feeds: dict[str, Any] = Field(default_factory=dict)


class BreakGlassRequest(BaseModel):
    reason: str = Field(min_length=10, max_length=2000,
                        description="The emergency, in words an auditor will read.")


def _client_of(request: Request) -> UUID | None:
    try:
        return UUID(str(request.path_params["client_id"]))
    except (KeyError, ValueError):
        return None


def authenticator(token_secret: str | TokenKeys, issuer: str = "careloop",
                  recorder: DisclosureRecorder | None = None) -> Callable[..., Awaitable[Caller]]:
    """The FastAPI dependency that turns a bearer token into a Caller, or answers 401 (and
    records the refused attempt, naming nobody)."""

    async def caller(
        request: Request,
        credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(bearer)],
    ) -> Caller:
        try:
            if credentials is None:
                raise InvalidToken("missing")
            who = verify(token_secret, credentials.credentials, issuer)
        except InvalidToken:
            if recorder is not None:
                await recorder.refused(Refusal(_client_of(request), None, request.url.path,
                                               401, "unauthenticated", "http"))
            detail = "a bearer token is required" if credentials is None else (
                "invalid or expired token")
            raise HTTPException(401, detail, headers={"WWW-Authenticate": "Bearer"}) from None
        structlog.contextvars.bind_contextvars(user=who.user, role=who.role)
        return who

    return caller


def create_http_app(
    queries: CareQueries, token_secret: str | TokenKeys, health: Callable[[], Awaitable[HealthProbe]],
    issuer: str = "careloop", audit_router: APIRouter | None = None,
) -> FastAPI:
    api = FastAPI(
        title="careloop",
        version="0.1.0",
        description="Care-plan views per role, worklists, audit and health for "
                    "interdisciplinary care teams. Every read is recorded.",
    )
    api.add_middleware(InputGuard)

    @api.exception_handler(DamagedEvent)
    async def damaged(request: Request, e: DamagedEvent) -> JSONResponse:
        """A stored row that cannot be trusted: say which, never a traceback."""
        log.error("integrity_alert", alert=True, position=e.position,
                  aggregate_id=str(e.originator_id), version=e.version)
        return JSONResponse({"detail": str(e), "tampered": {
            "position": e.position, "aggregate_id": str(e.originator_id), "version": e.version}},
            status_code=503)
    caller = authenticator(token_secret, issuer, queries.recorder)

    Who = Annotated[Caller, Depends(caller)]
    PurposeHeader = Annotated[Purpose | None, Header(
        alias="X-Careloop-Purpose", description="Why you read; defaults by role.")]

    async def answer(call: Awaitable[dict[str, Any]]) -> dict[str, Any]:
        try:
            return await call
        except QueryRefused as refused:
            raise HTTPException(refused.status, refused.detail) from None

    @api.get("/health", response_model=HealthProbe)
    async def get_health(response: Response) -> HealthProbe:
        probe = await health()
        if probe.status != "ok":
            response.status_code = 503
        return probe

    @api.get("/clients/{client_id}/care-plan")
    async def get_care_plan(
        client_id: UUID, who: Who, purpose: PurposeHeader = None,
        access: Annotated[Literal["break-glass"] | None, Query(
            description="'break-glass' after opening emergency access")] = None,
    ) -> dict[str, Any]:
        structlog.contextvars.bind_contextvars(client_id=str(client_id))
        return await answer(queries.care_plan(who, client_id, purpose=purpose, access=access))

    @api.post("/clients/{client_id}/break-glass")
    async def post_break_glass(
        client_id: UUID, who: Who, request: Annotated[BreakGlassRequest, Body()],
    ) -> dict[str, Any]:
        structlog.contextvars.bind_contextvars(client_id=str(client_id))
        log.warning("break_glass_opened")
        return await answer(queries.open_break_glass(who, client_id, request.reason))

    @api.get("/clients/{client_id}/psychotherapy-notes")
    async def get_own_notes(client_id: UUID, who: Who,
                            purpose: PurposeHeader = None) -> dict[str, Any]:
        structlog.contextvars.bind_contextvars(client_id=str(client_id))
        return await answer(queries.own_notes(who, client_id, purpose))

    @api.get("/worklists/{name}")
    async def get_worklist(
        name: Annotated[str, Path(description=", ".join(WORKLISTS))],
        who: Who,
        limit: Annotated[int, Query(ge=1, le=200)] = 50,
        offset: Annotated[int, Query(ge=0)] = 0,
        client_id: UUID | None = None,
        party: Annotated[str | None, Query(description="organisation or owner waited on")] = None,
        as_of: Annotated[date | None, Query(description="judge 'overdue' as of this date")] = None,
    ) -> dict[str, Any]:
        return await answer(queries.worklist(who, name, limit=limit, offset=offset,
                                             client_id=client_id, who=party, today=as_of))

    if audit_router is not None:
        api.include_router(audit_router)
    return api
