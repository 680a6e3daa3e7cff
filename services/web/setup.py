"""Mounting the web pages in the HTTP app, configured from the settings."""

from __future__ import annotations

import secrets
from urllib.parse import urlsplit

import structlog
from fastapi import FastAPI
from fastapi.responses import RedirectResponse, Response

from services.api.care_queries import CareQueries
from services.partners.demo_people import DEMO_PEOPLE
from services.settings import Settings
from services.web.app import create_web_app
from services.web.common import WebConfig
from services.web.oidc import OidcClient
from services.web.sessions import SessionKeeper

log = structlog.get_logger("careloop.web")
PREFIX = "/ui"


def oidc_issuer(s: Settings) -> str:
    """The issuer the web signs people in with: the configured one, else the identity
    provider the API already trusts (its tokens' issuer, when it has a JWKS)."""
    if s.oidc_issuer:
        return s.oidc_issuer
    if s.token_jwks_url and s.token_issuer.startswith(("https://", "http://")):
        return s.token_issuer
    return ""


def session_secret(s: Settings, token_secret: str | None) -> str:
    if s.web_session_secret or token_secret:
        return s.web_session_secret or token_secret or ""
    # Only an identity provider's keys and no secret of ours: a key for this process.
    log.warning("web_session_secret_missing",
                effect="sessions end on restart and are not shared by other API processes; "
                       "set CARELOOP_WEB_SESSION_SECRET")
    return secrets.token_urlsafe(48)


def mount_web(api: FastAPI, queries: CareQueries, settings: Settings,
              token_secret: str | None, *, embedded: bool, http_url: str) -> None:
    """Production signs in through the identity provider only; embedded mode (its own
    nats-server, plain HTTP on loopback) offers the demo people too. Cookies are Secure
    everywhere but on plain http://."""
    s = settings
    base = (s.web_base_url or http_url).rstrip("/")
    issuer = oidc_issuer(s)
    oidc = OidcClient(issuer, s.oidc_client_id, f"{base}{PREFIX}/auth/callback",
                      s.oidc_client_secret, s.oidc_role_claim,
                      s.oidc_organisation_claim) if issuer else None
    keeper = SessionKeeper(session_secret(s, token_secret),
                           secure=base.startswith("https://") or not embedded,
                           idle_seconds=s.web_session_idle_minutes * 60,
                           lifetime_seconds=s.web_session_hours * 3600)
    parts = urlsplit(base)
    config = WebConfig(prefix=PREFIX, secure=keeper.secure, oidc=oidc,
                       origin=f"{parts.scheme}://{parts.netloc}",
                       demo_people=DEMO_PEOPLE if embedded and not oidc else ())
    api.mount(PREFIX, create_web_app(queries, keeper, config))

    @api.get("/", include_in_schema=False)
    @api.get(PREFIX, include_in_schema=False)
    async def to_the_pages() -> Response:
        return RedirectResponse(f"{PREFIX}/", status_code=307)
