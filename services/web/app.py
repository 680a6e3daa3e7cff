"""The web pages for coordinators and clinicians, mounted in the HTTP app under ``/ui``.

Server-rendered (Jinja2) from the SAME query functions as the API (``CareQueries``): the same
view per role, the same caseload and break-glass checks, the same recorded read for every
page view. A little htmx (vendored, pinned, no CDN) swaps a worklist's table when filtering
or paging; every page also works without JavaScript. Client ids in addresses are the opaque
UUIDs careloop already uses; names and clinical facts never appear in addresses, titles or
browser storage, and pages are sent ``Cache-Control: no-store``.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from pathlib import Path

import structlog
from fastapi import FastAPI, Request, Response
from fastapi.responses import HTMLResponse, RedirectResponse
from fastapi.staticfiles import StaticFiles
from fastapi.templating import Jinja2Templates

from services.api.care_queries import CareQueries
from services.web import routes_auth, routes_pages, shaping
from services.web.common import BadForm, NotSignedIn, WebConfig
from services.web.sessions import SessionKeeper

log = structlog.get_logger("careloop.web")
HERE = Path(__file__).resolve().parent
HTMX = "htmx-2.0.11.min.js"
SECURITY_HEADERS = {
    "Content-Security-Policy": "default-src 'self'; script-src 'self'; style-src 'self'; "
                               "img-src 'self' data:; frame-ancestors 'none'; "
                               "form-action 'self'; base-uri 'none'; object-src 'none'",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "same-origin",
    "X-Frame-Options": "DENY",
}


def create_web_app(queries: CareQueries, keeper: SessionKeeper, config: WebConfig) -> FastAPI:
    web = FastAPI(title="careloop web", docs_url=None, redoc_url=None, openapi_url=None)
    templates = Jinja2Templates(directory=HERE / "templates")
    templates.env.globals.update(prefix=config.prefix, htmx=f"{config.prefix}/static/{HTMX}")
    templates.env.filters["when"] = shaping.when
    web.state.queries, web.state.keeper, web.state.config = queries, keeper, config
    web.state.templates = templates
    web.mount("/static", StaticFiles(directory=HERE / "static"), name="static")
    web.include_router(routes_auth.router)
    web.include_router(routes_pages.router)

    @web.exception_handler(NotSignedIn)
    async def sign_in_first(request: Request, exc: NotSignedIn) -> Response:
        response = RedirectResponse(f"{config.prefix}/sign-in", status_code=303)
        response.delete_cookie(keeper.cookie, path="/")
        return response

    @web.exception_handler(BadForm)
    async def refuse_form(request: Request, exc: BadForm) -> Response:
        return HTMLResponse("<!doctype html><title>Form refused · careloop</title>"
                            "<p>This form has expired or did not come from this site. "
                            f'<a href="{config.prefix}/">Start again</a>.</p>', status_code=403)

    @web.exception_handler(Exception)
    async def failed(request: Request, exc: Exception) -> Response:
        # Fail closed: when a read cannot be recorded (or anything else breaks), nothing of
        # the client is shown. The log names the error, never the data.
        log.error("web_page_failed", error=type(exc).__name__, path=request.url.path)
        return HTMLResponse("<!doctype html><title>Not available · careloop</title>"
                            "<p>This page is not available right now; nothing was shown. "
                            f'<a href="{config.prefix}/">Try again</a>.</p>', status_code=503)

    @web.middleware("http")
    async def headers(request: Request,
                      call_next: Callable[[Request], Awaitable[Response]]) -> Response:
        response = await call_next(request)
        response.headers.update(SECURITY_HEADERS)
        if "/static/" not in request.url.path:
            response.headers["Cache-Control"] = "no-store"
        return response

    return web
