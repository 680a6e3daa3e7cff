"""Mounting the web pages in the HTTP app, configured from the settings."""

from __future__ import annotations

from urllib.parse import urlsplit

from fastapi import FastAPI
from fastapi.responses import RedirectResponse, Response

from services.api.care_queries import CareQueries
from services.partners.demo_people import DEMO_PEOPLE
from services.settings import Settings
from services.web.app import create_web_app
from services.web.common import WebConfig
from services.web.oidc import OidcClient
from services.web.sessions import SessionKeeper

PREFIX = "/ui"


def mount_web(api: FastAPI, queries: CareQueries, settings: Settings, token_secret: str,
              *, embedded: bool, http_url: str) -> None:
    """Production signs in through the identity provider only; embedded mode (its own
    nats-server, plain HTTP on loopback) offers the demo people too. Cookies are Secure
    everywhere but on plain http://."""
    s = settings
    base = (s.web_base_url or http_url).rstrip("/")
    oidc = OidcClient(s.oidc_issuer, s.oidc_client_id, f"{base}{PREFIX}/auth/callback",
                      s.oidc_client_secret, s.oidc_role_claim,
                      s.oidc_organisation_claim) if s.oidc_issuer else None
    keeper = SessionKeeper(s.web_session_secret or token_secret,
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
