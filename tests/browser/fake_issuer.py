"""A tiny OpenID Connect provider for tests: discovery, authorize (signs in the person the
test chose, no questions asked), token (checks the PKCE verifier, once per code) and JWKS.
It serves on a free loopback port from a thread of its own."""

from __future__ import annotations

import base64
import hashlib
import secrets
import threading
import time
from typing import Any
from urllib.parse import urlencode

import jwt
import uvicorn
from cryptography.hazmat.primitives.asymmetric import rsa
from fastapi import FastAPI, Form, Request, Response
from fastapi.responses import JSONResponse, RedirectResponse

from services.bus.embedded_nats import free_port


class FakeIssuer:
    def __init__(self, person: dict[str, str], client_id: str = "careloop-web") -> None:
        self.person, self.client_id = person, client_id
        self.port = free_port(0, "127.0.0.1")
        self.url = f"http://127.0.0.1:{self.port}"
        self.key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        self.kid = "test-key-1"
        self.codes: dict[str, dict[str, str]] = {}
        self.token_requests: list[dict[str, str]] = []
        self.audience: str | None = None
        """Set to issue ID tokens for another client (a token meant for someone else)."""
        self.app = self._app()
        self._server: uvicorn.Server | None = None
        self._thread: threading.Thread | None = None

    def _app(self) -> FastAPI:
        app = FastAPI()

        @app.get("/.well-known/openid-configuration")
        async def discovery() -> dict[str, Any]:
            return {"issuer": self.url, "authorization_endpoint": f"{self.url}/authorize",
                    "token_endpoint": f"{self.url}/token", "jwks_uri": f"{self.url}/jwks",
                    "code_challenge_methods_supported": ["S256"]}

        @app.get("/jwks")
        async def jwks() -> dict[str, Any]:
            public = jwt.algorithms.RSAAlgorithm.to_jwk(self.key.public_key(), as_dict=True)
            return {"keys": [{**public, "kid": self.kid, "use": "sig", "alg": "RS256"}]}

        @app.get("/authorize")
        async def authorize(request: Request) -> Response:
            q = request.query_params
            if q.get("code_challenge_method") != "S256" or not q.get("code_challenge") or (
                    q.get("client_id") != self.client_id or q.get("response_type") != "code"):
                return JSONResponse({"error": "invalid_request"}, 400)
            code = secrets.token_urlsafe(16)
            self.codes[code] = {"challenge": q["code_challenge"], "nonce": q.get("nonce", ""),
                                "redirect_uri": q["redirect_uri"], "client_id": q["client_id"]}
            target = q["redirect_uri"] + "?" + urlencode({"code": code, "state": q["state"]})
            return RedirectResponse(target, 302)

        @app.post("/token")
        async def token(grant_type: str = Form(), code: str = Form(),
                        redirect_uri: str = Form(), client_id: str = Form(),
                        code_verifier: str = Form()) -> Response:
            self.token_requests.append({"code": code, "code_verifier": code_verifier})
            issued = self.codes.pop(code, None)  # a code works once
            challenge = base64.urlsafe_b64encode(
                hashlib.sha256(code_verifier.encode()).digest()).rstrip(b"=").decode()
            if issued is None or grant_type != "authorization_code" or (
                    challenge != issued["challenge"]) or redirect_uri != issued["redirect_uri"] or (
                    client_id != issued["client_id"]):
                return JSONResponse({"error": "invalid_grant"}, 400)
            now = int(time.time())
            claims = {"iss": self.url, "aud": self.audience or client_id, "sub": self.person["sub"],
                      "role": self.person["role"], "org": self.person["org"],
                      "nonce": issued["nonce"], "iat": now, "exp": now + 300}
            id_token = jwt.encode(claims, self.key, algorithm="RS256",
                                  headers={"kid": self.kid})
            return JSONResponse({"access_token": "opaque", "token_type": "Bearer",
                                 "id_token": id_token, "expires_in": 300})

        return app

    def start(self) -> FakeIssuer:
        config = uvicorn.Config(self.app, host="127.0.0.1", port=self.port, log_config=None,
                                access_log=False, lifespan="off")
        self._server = uvicorn.Server(config)
        self._thread = threading.Thread(target=self._server.run, daemon=True)
        self._thread.start()
        deadline = time.monotonic() + 30
        while not self._server.started:
            if time.monotonic() > deadline:
                raise RuntimeError("the fake issuer did not start")
            time.sleep(0.02)
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.should_exit = True
        if self._thread is not None:
            self._thread.join(timeout=10)
