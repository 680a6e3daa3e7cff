"""The pages: a coordinator's worklists, a client's care plan as the signed-in role sees it,
and break-glass. Each page asks ``CareQueries`` exactly as the API does, so each view is a
recorded read and every refusal is the API's own."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime
from typing import Annotated, Any
from uuid import UUID

import structlog
from fastapi import APIRouter, Depends, Form, Query, Request, Response
from fastapi.responses import RedirectResponse

from domain.break_glass import MAY_BREAK_GLASS
from services.api.access_tokens import Caller
from services.api.care_queries import QueryRefused
from services.api.worklist_queries import WORKLISTS
from services.web import shaping
from services.web.common import check_form, config, queries, render, session
from services.web.sessions import Session

log = structlog.get_logger("careloop.web")
router = APIRouter()
SignedIn = Annotated[Session, Depends(session)]
PAGE_SIZE = 20
WORKLIST_TITLES = {
    "overdue-referrals": "Overdue referrals",
    "unacknowledged-referrals": "Outcomes awaiting acknowledgement",
    "upcoming-conferences": "Upcoming conferences",
    "unfinalized-conferences": "Unfinalized conferences",
    "overdue-actions": "Overdue actions",
    "high-risk": "High-risk clients",
    "stale-goals": "Stale goals",
    "break-glass": "Break-glass openings",
}


def _today() -> Any:
    return datetime.now(UTC).date()


@router.get("/")
async def home(request: Request, signed_in: SignedIn,
               worklist: Annotated[str | None, Query(alias="list")] = None,
               party: Annotated[str, Query(max_length=200)] = "",
               page: Annotated[int, Query(ge=1, le=10_000)] = 1,
               size: Annotated[int, Query(ge=1, le=100)] = PAGE_SIZE) -> Response:
    if signed_in.caller.role != "coordinator":
        return render(request, "open_client.html", {"error": None}, signed_in)
    names = list(WORKLISTS)
    chosen = worklist if worklist in WORKLISTS else names[0]
    q, caller = queries(request), signed_in.caller
    try:
        # Each list's count and its first row, shown on its tab (so each recorded read of
        # that row's client matches what the page shows), then the chosen list's page.
        heads = await asyncio.gather(*(q.worklist(caller, n, limit=1, channel="web")
                                       for n in names))
        current = await q.worklist(caller, chosen, limit=size,
                                   offset=(page - 1) * size, who=party or None,
                                   channel="web")
    except QueryRefused as refused:
        return _refused(request, signed_in, refused)
    tabs = [{"name": n, "title": WORKLIST_TITLES.get(n, n.replace("-", " ").capitalize()),
             "total": h["total"], "first": (h["items"] or [None])[0]}
            for n, h in zip(names, heads, strict=True)]
    pages = max(1, -(-current["total"] // size))
    context = {"tabs": tabs, "chosen": chosen, "list": current, "party": party,
               "page": page, "pages": pages, "size": size, "title": WORKLIST_TITLES.get(chosen, chosen)}
    partial = request.headers.get("hx-request") == "true"
    return render(request, "worklist_table.html" if partial else "home.html", context,
                  signed_in)


@router.get("/clients/open")
async def open_client(request: Request, signed_in: SignedIn,
                      client_id: Annotated[str, Query(max_length=64)] = "") -> Response:
    try:
        uid = UUID(client_id.strip())
    except ValueError:
        return render(request, "open_client.html",
                      {"error": "A careloop client id looks like "
                                "5f0c9a8e-2d4b-4c1e-9a3f-7b6d2e1c0a11."}, signed_in, 422)
    return RedirectResponse(f"{config(request).prefix}/clients/{uid}", 303)


@router.get("/clients/{client_id}")
async def client_page(request: Request, client_id: UUID, signed_in: SignedIn,
                      access: Annotated[str | None, Query(pattern="^break-glass$")] = None,
                      ) -> Response:
    caller = signed_in.caller
    try:
        doc = await queries(request).care_plan(caller, client_id, access=access, channel="web")
    except QueryRefused as refused:
        return _refused(request, signed_in, refused, client_id)
    today = _today()
    until = await _break_glass_until(request, client_id, caller) if access else None
    referrals = [(r, shaping.referral_loop(r, today)) for r in doc.get("referrals") or []]
    return render(request, "client.html", {
        "doc": doc, "client_id": client_id, "today": today.isoformat(),
        "domains": shaping.by_domain(doc), "team": shaping.team(doc),
        "consents": shaping.consents_in_force(doc, today), "referrals": referrals,
        "conferences": shaping.conferences(doc), "chart": shaping.screening_chart(doc),
        "chart_box": shaping.CHART, "ticks": shaping.chart_ticks(), "break_glass_until": until,
        "tasks": sorted((doc.get("tasks") or {}).values(),
                        key=lambda t: str(t.get("due_date") or ""))}, signed_in)


@router.post("/clients/{client_id}/break-glass")
async def break_glass(request: Request, client_id: UUID, signed_in: SignedIn,
                      reason: Annotated[str, Form(max_length=2000)],
                      csrf: Annotated[str, Form()]) -> Response:
    check_form(request, signed_in.sid, csrf)
    reason = reason.strip()
    if len(reason) < 10 or "\x00" in reason:
        return render(request, "refused.html", {
            "status": 422, "detail": "Say what the emergency is (at least 10 characters); "
                                     "auditors will read it.",
            "client_id": client_id, "may_break_glass": True, "reason": reason},
            signed_in, 422)
    try:
        await queries(request).open_break_glass(signed_in.caller, client_id, reason,
                                                channel="web")
    except QueryRefused as refused:
        return _refused(request, signed_in, refused, client_id)
    log.warning("break_glass_opened", client_id=str(client_id), channel="web")
    prefix = config(request).prefix
    return RedirectResponse(f"{prefix}/clients/{client_id}?access=break-glass", 303)


async def _break_glass_until(request: Request, client_id: UUID, caller: Caller) -> str | None:
    until = await queries(request).grant_until(caller, client_id)
    return until.astimezone(UTC).strftime("%Y-%m-%d %H:%M UTC") if until else None


def _refused(request: Request, signed_in: Session, refused: QueryRefused,
             client_id: UUID | None = None) -> Response:
    # The same offer for a client out of scope as for one that does not exist (no oracle);
    # the query layer decides whether the glass may be broken.
    may = (client_id is not None and refused.reason == "out_of_scope"
           and signed_in.caller.role in MAY_BREAK_GLASS)
    return render(request, "refused.html", {
        "status": refused.status, "detail": refused.detail, "client_id": client_id,
        "may_break_glass": may, "reason": ""}, signed_in, refused.status)
