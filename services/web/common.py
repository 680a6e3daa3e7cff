"""What every page needs: the signed-in session, CSRF checks and rendering with a fresh
(sliding) session cookie."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from fastapi import Request, Response
from fastapi.templating import Jinja2Templates

from services.api.access_tokens import Caller
from services.api.care_queries import CareQueries
from services.web.oidc import OidcClient
from services.web.sessions import Session, SessionKeeper

ROLE_NAMES = {
    "clinical-social-worker": "Clinical social worker",
    "psychiatrist": "Psychiatrist",
    "housing-advocate": "Housing advocate",
    "benefits-advocate": "Benefits advocate",
    "coordinator": "Coordinator",
    "auditor": "Auditor",
}


@dataclass(frozen=True)
class WebConfig:
    prefix: str = "/ui"
    secure: bool = True
    """Cookies marked Secure (and __Host- names): everywhere but embedded mode's plain HTTP."""
    demo_people: tuple[Caller, ...] = ()
    """Embedded mode's local sign-in offers these people; empty in production."""
    oidc: OidcClient | None = None
    origin: str = ""
    """The pages' public origin (scheme://host:port), accepted on forms besides the request's
    own (behind a TLS-terminating proxy the request itself looks like plain HTTP)."""


class NotSignedIn(Exception):
    """No valid session: the page sends the browser to sign in."""


class BadForm(Exception):
    """A form without a valid CSRF token (or from another origin)."""


def keeper(request: Request) -> SessionKeeper:
    return request.app.state.keeper  # type: ignore[no-any-return]


def config(request: Request) -> WebConfig:
    return request.app.state.config  # type: ignore[no-any-return]


def queries(request: Request) -> CareQueries:
    return request.app.state.queries  # type: ignore[no-any-return]


def session(request: Request) -> Session:
    """The FastAPI dependency of every signed-in page."""
    found = keeper(request).read(request.cookies.get(keeper(request).cookie))
    if found is None:
        raise NotSignedIn()
    return found


def check_form(request: Request, bound_to: str, token: str | None) -> None:
    """A state-changing form must carry our CSRF token and, when the browser says where it
    comes from, come from this origin."""
    origin = request.headers.get("origin")
    ours = {f"{request.url.scheme}://{request.url.netloc}", config(request).origin}
    if origin and origin not in ours:
        raise BadForm()
    if not keeper(request).csrf_ok(bound_to, token):
        raise BadForm()


def render(request: Request, template: str, context: dict[str, Any],
           signed_in: Session | None = None, status_code: int = 200) -> Response:
    templates: Jinja2Templates = request.app.state.templates
    context = {"caller": signed_in.caller if signed_in else None,
               "role_name": ROLE_NAMES.get(signed_in.caller.role, "") if signed_in else "",
               "csrf": keeper(request).csrf_token(signed_in.sid) if signed_in else "",
               **context}
    response = templates.TemplateResponse(request, template, context, status_code=status_code)
    if signed_in is not None:  # each page view extends the idle window
        response.set_cookie(keeper(request).cookie, keeper(request).refresh(signed_in),
                            **keeper(request).cookie_options(None))
    return response
