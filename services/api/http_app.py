"""The HTTP face for the care team, coordinators and auditors: role views, worklists, health.

Callers present a signed bearer token (``careloop token`` issues them). A missing, unknown
or expired token gets 401; a role asking outside its rights 403; neither says whether the
client exists. Every read is recorded before its data is sent.
"""

# No `from __future__ import annotations`: FastAPI must see the route annotations, which
# refer to names local to create_http_app, as objects.

import json
import sqlite3
from collections.abc import Awaitable, Callable
from datetime import date
from typing import Annotated, Any, Literal, get_args
from uuid import UUID

import psycopg
import structlog
from eventsourcing.persistence import PersistenceError
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
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from pydantic import BaseModel, ConfigDict, Field

from services.api import asyncapi_document, openapi_cleanup
from services.api.access_tokens import Caller, InvalidToken, TokenKeys
from services.api.care_queries import CareQueries, QueryRefused
from services.api.disclosure_recorder import DisclosureRecorder, Refusal
from services.api.fast_route import FastPathRoute
from services.api.input_guard import STORABLE_TEXT, InputGuard
from services.api.response_models import (
    BreakGlassGrant,
    CarePlanView,
    FhirBundle,
    PsychotherapyNotes,
    WorklistPage,
    documented_refusals,
)
from services.api.token_cache import VerifiedTokens
from services.api.worklist_queries import WORKLISTS
from services.fhir.care_plan_export import MEDIA_TYPE as FHIR_JSON
from services.fhir.care_plan_export import care_plan_bundle
from services.store.event_seal import DamagedEvent

log = structlog.get_logger("careloop.http")

DEPENDENCY_ERRORS: tuple[type[Exception], ...] = (
    PersistenceError, psycopg.Error, sqlite3.Error, OSError, TimeoutError)
"""A store or the bus away: the request could not be served (or recorded) right now."""

Purpose = Literal["treatment", "care-coordination", "audit"]
bearer = HTTPBearer(auto_error=False, bearerFormat="JWT",
                    description="A signed JWT (HS256) from `careloop token` or your identity "
                                "provider: sub, role, organisation, exp.")


PURPOSES: tuple[str, ...] = get_args(Purpose)


def _one_of(value: str | None, allowed: tuple[str, ...], where: tuple[str, str]) -> str | None:
    """``value`` if absent or allowed; otherwise the 422 FastAPI gives a declared Literal."""
    if value is None or value in allowed:
        return value
    expected = " or ".join(repr(a) for a in allowed)
    raise RequestValidationError([{"type": "literal_error", "loc": where, "input": value,
                                   "msg": f"Input should be {expected}",
                                   "ctx": {"expected": expected}}])


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
    model_config = ConfigDict(extra="forbid")

    reason: str = Field(min_length=10, max_length=2000, pattern=STORABLE_TEXT,
                        description="The emergency, in words an auditor will read.")


def _client_of(request: Request) -> UUID | None:
    try:
        return UUID(str(request.path_params["client_id"]))
    except (KeyError, ValueError):
        return None


def authenticator(token_secret: str | TokenKeys, issuer: str = "careloop",
                  recorder: DisclosureRecorder | None = None) -> Callable[..., Awaitable[Caller]]:
    """The FastAPI dependency that turns a bearer token into a Caller, or answers 401 (and
    records the refused attempt, naming nobody). Each token's signature is checked once in
    its lifetime (``VerifiedTokens``)."""

    tokens = VerifiedTokens(token_secret, issuer)

    async def caller(
        request: Request,
        credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(bearer)],
    ) -> Caller:
        try:
            if credentials is None:
                raise InvalidToken("missing")
            who = tokens.verify(credentials.credentials)
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
        dependencies=[Depends(openapi_cleanup.refuse_unknown_query)],
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

    asyncapi_json = asyncapi_document.render()

    @api.get("/asyncapi.json", response_class=Response, responses={200: {
        "description": "The AsyncAPI 3.0 document of careloop's NATS interface.",
        "content": {"application/json": {"schema": {"type": "object"}}}},
        **documented_refusals(422)})
    async def get_asyncapi() -> Response:
        return Response(asyncapi_json, media_type="application/json")

    async def unavailable(request: Request, error: Exception) -> JSONResponse:
        """A dependency failed mid-request (store away, read not recorded): fail closed,
        and say so as 503. Anything else is a bug and stays a 500."""
        log.warning("request_unavailable", error=type(error).__name__)
        return JSONResponse({"detail": "temporarily unavailable; try again"}, status_code=503)

    for unavailable_error in DEPENDENCY_ERRORS:
        api.add_exception_handler(unavailable_error, unavailable)

    @api.get("/health", response_model=HealthProbe, responses={
        503: {"model": HealthProbe, "description": "Degraded: a dependency is away or stuck."},
        **documented_refusals(422)})
    async def get_health(response: Response) -> HealthProbe:
        probe = await health()
        if probe.status != "ok":
            response.status_code = 503
        return probe

    # The hottest route reads its token, header and query itself: FastAPI's dependency
    # solving cost more per request than the read (docs/performance.md). The same
    # parameters are documented (and fuzzed) as if they were declared.
    care_plan_params = {"security": [{"HTTPBearer": []}], "parameters": [
        {"name": "X-Careloop-Purpose", "in": "header", "required": False,
         "description": "Why you read; defaults by role.",
         "schema": {"type": "string", "enum": list(PURPOSES)}},
        {"name": "access", "in": "query", "required": False,
         "description": "'break-glass' after opening emergency access",
         "schema": {"type": "string", "enum": ["break-glass"]}}]}

    @api.get("/clients/{client_id}/care-plan", response_class=Response,
             openapi_extra=care_plan_params,
             responses={200: {"model": CarePlanView,
                              "description": "The care plan as the caller's role sees it."},
                        **documented_refusals(400, 401, 403, 404, 503)})
    async def get_care_plan(client_id: UUID, request: Request) -> Response:
        who = await caller(request, await bearer(request))
        purpose = _one_of(request.headers.get("x-careloop-purpose"), PURPOSES,
                          ("header", "X-Careloop-Purpose"))
        access = _one_of(request.query_params.get("access"), ("break-glass",),
                         ("query", "access"))
        structlog.contextvars.bind_contextvars(client_id=str(client_id))
        try:  # the stored document's bytes, not a dict for FastAPI to re-encode
            body = await queries.care_plan_json(who, client_id, purpose=purpose, access=access)
        except QueryRefused as refused:
            raise HTTPException(refused.status, refused.detail) from None
        return Response(body, media_type="application/json")

    async def get_care_plan_fast(request: Request) -> Response:
        return await get_care_plan(request.path_params["client_id"], request)

    api.router.routes.insert(0, FastPathRoute(  # the same read, minus dependency solving
        "/clients/{client_id:uuid}/care-plan", get_care_plan_fast, frozenset({"access"})))

    @api.get("/clients/{client_id}/fhir", response_class=Response, responses={200: {
        "description": "The caller's care plan as a FHIR R4 Bundle (type collection), "
                       "rendered from the same role view as /care-plan.",
        "content": {FHIR_JSON: {"schema": FhirBundle.model_json_schema()}}},
        **documented_refusals(400, 401, 403, 404, 503)})
    async def get_care_plan_fhir(
        client_id: UUID, who: Who, purpose: PurposeHeader = None,
        access: Annotated[Literal["break-glass"] | None, Query(
            description="'break-glass' after opening emergency access")] = None,
    ) -> Response:
        structlog.contextvars.bind_contextvars(client_id=str(client_id))
        view = await answer(queries.care_plan(who, client_id, purpose=purpose, access=access))
        return Response(json.dumps(care_plan_bundle(view)), media_type=FHIR_JSON)

    @api.post("/clients/{client_id}/break-glass", response_model=None, responses={
        200: {"model": BreakGlassGrant, "description": "The grant, open until the time given."},
        **documented_refusals(400, 401, 403, 404, 503)})
    async def post_break_glass(
        client_id: UUID, who: Who, request: Annotated[BreakGlassRequest, Body()],
    ) -> dict[str, Any]:
        structlog.contextvars.bind_contextvars(client_id=str(client_id))
        log.warning("break_glass_opened")
        return await answer(queries.open_break_glass(who, client_id, request.reason))

    @api.get("/clients/{client_id}/psychotherapy-notes", response_model=None, responses={
        200: {"model": PsychotherapyNotes, "description": "The caller's own notes."},
        **documented_refusals(400, 401, 403, 404, 503)})
    async def get_own_notes(client_id: UUID, who: Who,
                            purpose: PurposeHeader = None) -> dict[str, Any]:
        structlog.contextvars.bind_contextvars(client_id=str(client_id))
        return await answer(queries.own_notes(who, client_id, purpose))

    @api.get("/worklists/{name}", response_model=None, responses={
        200: {"model": WorklistPage, "description": "One page of the worklist."},
        **documented_refusals(400, 401, 403, 404, 503)})
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
    openapi_cleanup.install(api)
    return api
