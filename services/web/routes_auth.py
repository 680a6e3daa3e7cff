"""Signing in and out: the identity provider (OpenID Connect, code flow with PKCE) in
production; in embedded mode a local sign-in that picks one of the demo people."""

from __future__ import annotations

import secrets
from typing import Annotated

import structlog
from fastapi import APIRouter, Depends, Form, Request, Response
from fastapi.responses import RedirectResponse

from services.web.common import check_form, config, keeper, render, session
from services.web.oidc import SignInFailed, pkce_pair
from services.web.sessions import Session

log = structlog.get_logger("careloop.web")
router = APIRouter()


def _signed_in(request: Request, session_cookie: str) -> Response:
    response = RedirectResponse(f"{config(request).prefix}/", status_code=303)
    k = keeper(request)
    response.set_cookie(k.cookie, session_cookie, **k.cookie_options(None))
    response.delete_cookie(k.flow_cookie, path="/")
    return response


@router.get("/sign-in")
async def sign_in_page(request: Request, signed_out: bool = False) -> Response:
    cfg, k = config(request), keeper(request)
    nonce = secrets.token_urlsafe(16)
    response = render(request, "sign_in.html", {
        "people": list(enumerate(cfg.demo_people)), "oidc": cfg.oidc is not None,
        "signin_csrf": k.csrf_token(f"signin:{nonce}"), "signed_out": signed_out,
        "error": None})
    response.set_cookie(k.flow_cookie, k.flow({"nonce": nonce}), **k.cookie_options(600))
    return response


@router.post("/sign-in")
async def sign_in_locally(request: Request, person: Annotated[int, Form()],
                          csrf: Annotated[str, Form()]) -> Response:
    cfg, k = config(request), keeper(request)
    flow = k.read_flow(request.cookies.get(k.flow_cookie))
    check_form(request, f"signin:{(flow or {}).get('nonce', '')}", csrf if flow else None)
    if not cfg.demo_people or not 0 <= person < len(cfg.demo_people):
        return render(request, "sign_in.html", {
            "people": [], "oidc": cfg.oidc is not None, "signin_csrf": "",
            "signed_out": False, "error": "Local sign-in is not available here."},
            status_code=403)
    caller = cfg.demo_people[person]
    _, cookie = k.start(caller, "local")
    log.info("web_signed_in", user=caller.user, role=caller.role, via="local")
    return _signed_in(request, cookie)


@router.get("/sign-in/start")
async def sign_in_with_provider(request: Request) -> Response:
    cfg, k = config(request), keeper(request)
    if cfg.oidc is None:
        return RedirectResponse(f"{cfg.prefix}/sign-in", status_code=303)
    state, nonce = secrets.token_urlsafe(24), secrets.token_urlsafe(24)
    verifier, challenge = pkce_pair()
    try:
        url = await cfg.oidc.authorization_url(state, nonce, challenge)
    except SignInFailed as e:
        return _failed(request, str(e))
    response = RedirectResponse(url, status_code=302)
    response.set_cookie(k.flow_cookie, k.flow({"state": state, "nonce": nonce,
                                               "verifier": verifier}), **k.cookie_options(600))
    return response


@router.get("/auth/callback")
async def provider_callback(request: Request, code: str = "", state: str = "",
                            error: str = "") -> Response:
    cfg, k = config(request), keeper(request)
    flow = k.read_flow(request.cookies.get(k.flow_cookie))
    if cfg.oidc is None:
        return RedirectResponse(f"{cfg.prefix}/sign-in", status_code=303)
    if error:
        return _failed(request, "The identity provider did not sign you in.")
    if not flow or not state or not secrets.compare_digest(flow.get("state", ""), state):
        return _failed(request, "This sign-in has expired or was not started here; try again.")
    try:
        caller = await cfg.oidc.sign_in(code, flow["verifier"], flow["nonce"])
    except SignInFailed as e:
        return _failed(request, str(e))
    _, cookie = k.start(caller, "oidc")
    log.info("web_signed_in", user=caller.user, role=caller.role, via="oidc")
    return _signed_in(request, cookie)


def _failed(request: Request, why: str) -> Response:
    log.warning("web_sign_in_failed", reason=why)
    cfg = config(request)
    return render(request, "sign_in.html", {
        "people": [], "oidc": cfg.oidc is not None, "signin_csrf": "",
        "signed_out": False, "error": why}, status_code=401)


@router.post("/sign-out")
async def sign_out(request: Request, signed_in: Annotated[Session, Depends(session)],
                   csrf: Annotated[str, Form()]) -> Response:
    check_form(request, signed_in.sid, csrf)
    k = keeper(request)
    k.revoke(signed_in)
    log.info("web_signed_out", user=signed_in.caller.user)
    response = RedirectResponse(f"{config(request).prefix}/sign-in?signed_out=true",
                                status_code=303)
    response.delete_cookie(k.cookie, path="/", secure=k.secure, httponly=True)
    return response
